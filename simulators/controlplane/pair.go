package controlplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Pair is the embedded platform's two control planes: the host cluster and
// the tenant (a vCluster tenant is its own API server).
type Pair struct {
	Dir    string
	Host   *Process
	Tenant *Process
	// Started is how long both took to become ready.
	Started time.Duration
}

// Kubeconfig paths written into the platform directory.
func (p *Pair) HostKubeconfig() string   { return filepath.Join(p.Dir, "host.kubeconfig") }
func (p *Pair) TenantKubeconfig() string { return filepath.Join(p.Dir, "tenant.kubeconfig") }

// StartPair starts host and tenant in parallel under dir and copies their
// admin kubeconfigs to dir/host.kubeconfig and dir/tenant.kubeconfig.
// tenantAPIServerArgs are extra kube-apiserver flags for the tenant.
func StartPair(ctx context.Context, binary, dir string, tenantAPIServerArgs ...string) (*Pair, error) {
	return StartPairWith(ctx, binary, dir, PairOptions{TenantAPIServerArgs: tenantAPIServerArgs})
}

// PairOptions tune StartPairWith.
type PairOptions struct {
	// TenantAPIServerArgs are extra kube-apiserver flags for the tenant.
	TenantAPIServerArgs []string
	// HostReady runs as soon as the host serves, while the tenant may
	// still be starting (work on the host that waits on the API server
	// overlaps the tenant's start). Its error fails the start.
	HostReady func(ctx context.Context, host *Process) error
}

// StartPairWith is StartPair with options.
func StartPairWith(ctx context.Context, binary, dir string, o PairOptions) (*Pair, error) {
	begin := time.Now()
	type result struct {
		p   *Process
		err error
	}
	start := func(name string, out chan<- result, then func(context.Context, *Process) error, args ...string) {
		p, err := Launch(ctx, binary, name, filepath.Join(dir, name), args...)
		if err == nil && then != nil {
			if err = then(ctx, p); err != nil {
				err = fmt.Errorf("%s control plane: %w", name, err)
			}
		}
		out <- result{p, err}
	}
	hc, tc := make(chan result, 1), make(chan result, 1)
	go start("host", hc, o.HostReady)
	go start("tenant", tc, nil, o.TenantAPIServerArgs...)
	h, t := <-hc, <-tc
	if err := errors.Join(h.err, t.err); err != nil {
		for _, r := range []result{h, t} {
			if r.p != nil {
				r.p.Stop()
			}
		}
		return nil, err
	}
	pair := &Pair{Dir: dir, Host: h.p, Tenant: t.p, Started: time.Since(begin)}
	for src, dst := range map[string]string{h.p.Ready.Kubeconfig: pair.HostKubeconfig(), t.p.Ready.Kubeconfig: pair.TenantKubeconfig()} {
		if err := copyFile(src, dst); err != nil {
			pair.Stop()
			return nil, fmt.Errorf("write %s: %w", dst, err)
		}
	}
	return pair, nil
}

// Stop stops both at once: neither calls the other, and each child's own
// shutdown is ordered (components, then the API server, then etcd).
func (p *Pair) Stop() error {
	return StopAll(p.Tenant, p.Host)
}

// StopAll stops the processes in parallel and joins their errors.
func StopAll(ps ...*Process) error {
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		if p == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.Stop()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}
