// Package kubeconfig loads the kubeconfig of an environment's cluster and
// waits for its API, with errors that say which cluster, which file and
// which server: "no kubeconfig" and "unreachable cluster" are the two
// failures users meet first, so they get clear messages.
package kubeconfig

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Load reads a kubeconfig file; what names the cluster in errors ("the
// tenant", "the kind host cluster").
func Load(path, what string) (*rest.Config, error) { return LoadContext(path, "", what) }

// LoadContext is Load with a named context of the file instead of its
// current one (kubectl's --context).
func LoadContext(path, context, what string) (*rest.Config, error) {
	if path == "" {
		return nil, fmt.Errorf("no kubeconfig for %s: give its path", what)
	}
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no kubeconfig for %s: %s does not exist", what, path)
	}
	if err != nil {
		return nil, fmt.Errorf("kubeconfig for %s: %w", what, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("kubeconfig for %s: %s is a directory, not a kubeconfig file", what, path)
	}
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: path}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context})
	if context != "" {
		raw, err := cc.RawConfig()
		if err != nil {
			return nil, fmt.Errorf("kubeconfig for %s (%s): %v", what, path, err)
		}
		if _, ok := raw.Contexts[context]; !ok {
			names := make([]string, 0, len(raw.Contexts))
			for n := range raw.Contexts {
				names = append(names, n)
			}
			sort.Strings(names)
			return nil, fmt.Errorf("kubeconfig for %s: context %q is not in %s (it has: %s)", what, context, path, strings.Join(names, ", "))
		}
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig for %s (%s): %v", what, path, err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	return cfg, nil
}

// WaitReachable polls the API server's /readyz until it answers ok or
// timeout passes; the error names the cluster, the server and the last
// failure.
func WaitReachable(ctx context.Context, cfg *rest.Config, what string, timeout time.Duration) error {
	c, err := kubernetes.NewForConfig(withTimeout(cfg, 5*time.Second))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		body, err := c.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && string(body) == "ok" {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("/readyz says %q", body)
		}
		if ctx.Err() == nil || last == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s is not reachable: the API server at %s did not answer within %s: %v", what, cfg.Host, timeout, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func withTimeout(cfg *rest.Config, d time.Duration) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Timeout = d
	return c
}
