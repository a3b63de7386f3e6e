package kind

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	kindlog "sigs.k8s.io/kind/pkg/log"
)

// Engine is the boundary to kind and its container engine: what creates,
// loads into and deletes node containers. The default is the
// sigs.k8s.io/kind library with the detected engine.
type Engine interface {
	// Create creates the cluster from a kind config and writes its
	// kubeconfig to kubeconfig; it returns when the control plane is ready.
	Create(ctx context.Context, name string, config []byte, kubeconfig string) error
	// LoadImageArchive loads an image tarball into every node.
	LoadImageArchive(ctx context.Context, name, archive string) error
	// CollectLogs writes the nodes' logs under dir.
	CollectLogs(ctx context.Context, name, dir string) error
	// Delete deletes the cluster and its entry in kubeconfig.
	Delete(ctx context.Context, name, kubeconfig string) error
}

// engines are the container engines kind can create nodes with, in kind's
// order of detection.
var engines = []string{"docker", "nerdctl", "podman"}

// ErrNoEngine matches (errors.Is) CheckEngine's error when no engine is on PATH.
var ErrNoEngine = errors.New("no container engine")

type noEngineError struct{ msg string }

func (e noEngineError) Error() string        { return e.msg }
func (e noEngineError) Is(target error) bool { return target == ErrNoEngine }

// CheckEngine reports whether kind can create nodes here: a docker, podman
// or nerdctl CLI on PATH whose engine answers (`<cli> info`). It honours
// KIND_EXPERIMENTAL_PROVIDER as the kind CLI does.
func CheckEngine() error {
	_, err := detectEngine(context.Background())
	return err
}

const noEngineHint = "Install Docker, or use --env embedded (default) or --env existing --kubeconfig FILE."

func detectEngine(ctx context.Context) (string, error) {
	candidates := engines
	if p := os.Getenv("KIND_EXPERIMENTAL_PROVIDER"); p != "" {
		candidates = []string{p}
	}
	var found, silent []string
	for _, e := range candidates {
		if _, err := exec.LookPath(e); err != nil {
			continue
		}
		found = append(found, e)
		if err := ping(ctx, e); err != nil {
			silent = append(silent, fmt.Sprintf("`%s info`: %v", e, err))
			continue
		}
		return e, nil
	}
	if len(found) == 0 {
		names := "docker, podman or nerdctl"
		if len(candidates) == 1 {
			names = candidates[0] + " (KIND_EXPERIMENTAL_PROVIDER)"
		}
		return "", noEngineError{fmt.Sprintf("cctest run --env kind needs a container engine: no %s found on PATH "+
			"(kind creates nodes as containers). %s", names, noEngineHint)}
	}
	what := found[0] + " is on PATH but its engine does not answer"
	if len(found) > 1 {
		what = strings.Join(found, " and ") + " are on PATH but no engine answers"
	}
	return "", fmt.Errorf("cctest run --env kind needs a running container engine: %s (%s). "+
		"Start it (e.g. the Docker daemon), or use --env embedded (default) or --env existing --kubeconfig FILE.",
		what, strings.Join(silent, "; "))
}

// ping asks the engine itself, not just its CLI, to answer.
func ping(ctx context.Context, cli string) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, "info")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		// The reason is on stderr ("Cannot connect to the Docker daemon
		// at ..."); stdout starts with the client's own details.
		msg := firstLine(stderr.String())
		if msg == "" {
			msg = lastLines(stdout.String(), 1)
		}
		if msg == "" {
			msg = err.Error()
		}
		return errors.New(msg)
	}
	return nil
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// NewEngine returns the kind library engine for the detected container
// engine, or CheckEngine's error.
func NewEngine(log func(string)) (Engine, error) {
	e, err := detectEngine(context.Background())
	if err != nil {
		return nil, err
	}
	var opt kindcluster.ProviderOption
	switch e {
	case "podman":
		opt = kindcluster.ProviderWithPodman()
	case "nerdctl":
		opt = kindcluster.ProviderWithNerdctl("nerdctl")
	default:
		opt = kindcluster.ProviderWithDocker()
	}
	if log == nil {
		log = func(string) {}
	}
	return &libEngine{p: kindcluster.NewProvider(opt, kindcluster.ProviderWithLogger(logger{log})), waitReady: DefaultWaitTimeout}, nil
}

// libEngine drives the sigs.k8s.io/kind library. Its calls take no
// context: a cancelled run still waits for the current kind call.
type libEngine struct {
	p         *kindcluster.Provider
	waitReady time.Duration
}

func (e *libEngine) Create(_ context.Context, name string, config []byte, kubeconfig string) error {
	return e.p.Create(name,
		kindcluster.CreateWithRawConfig(config),
		kindcluster.CreateWithKubeconfigPath(kubeconfig),
		kindcluster.CreateWithWaitForReady(e.waitReady),
		kindcluster.CreateWithDisplayUsage(false),
		kindcluster.CreateWithDisplaySalutation(false))
}

// LoadImageArchive is `kind load image-archive`: the tarball is imported
// into each node's containerd (ctr images import).
func (e *libEngine) LoadImageArchive(_ context.Context, name, archive string) error {
	nodes, err := e.p.ListInternalNodes(name)
	if err != nil {
		return err
	}
	if len(nodes) == 0 {
		return fmt.Errorf("cluster %q has no nodes", name)
	}
	for _, n := range nodes {
		f, err := os.Open(archive)
		if err != nil {
			return err
		}
		err = nodeutils.LoadImageArchive(n, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("node %s: %w", n.String(), err)
		}
	}
	return nil
}

func (e *libEngine) CollectLogs(_ context.Context, name, dir string) error {
	return e.p.CollectLogs(name, dir)
}

func (e *libEngine) Delete(_ context.Context, name, kubeconfig string) error {
	return e.p.Delete(name, kubeconfig)
}

// logger adapts kind's logger to one line function; debug levels are dropped.
type logger struct{ f func(string) }

func (l logger) Warn(m string)                        { l.f("kind: warning: " + m) }
func (l logger) Warnf(f string, a ...any)             { l.Warn(fmt.Sprintf(f, a...)) }
func (l logger) Error(m string)                       { l.f("kind: error: " + m) }
func (l logger) Errorf(f string, a ...any)            { l.Error(fmt.Sprintf(f, a...)) }
func (l logger) V(v kindlog.Level) kindlog.InfoLogger { return infoLogger{l: l, on: v <= 0} }

type infoLogger struct {
	l  logger
	on bool
}

func (i infoLogger) Info(m string) {
	if i.on {
		i.l.f("kind: " + strings.TrimSpace(m))
	}
}
func (i infoLogger) Infof(f string, a ...any) { i.Info(fmt.Sprintf(f, a...)) }
func (i infoLogger) Enabled() bool            { return i.on }
