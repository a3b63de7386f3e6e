// Package e2eprov exposes cctest's environments as sigs.k8s.io/e2e-framework
// cluster providers, so e2e-framework test suites can run against them:
//
//	testenv = env.New()
//	testenv.Setup(envfuncs.CreateCluster(e2eprov.NewEmbedded(), "cc")).
//		Finish(envfuncs.DestroyCluster("cc"))
//
// Embedded starts the simulated confidential-compute platform of
// `cctest env up` (host and tenant control planes, auto nodes behind the
// attestation gate, simulated kubelets); Kind makes the kind environment of
// `cctest run --env kind`. Both are thin wrappers over the
// environments.Provider of that environment (environments/embedded,
// environments/kind). Both hand e2e-framework the tenant's kubeconfig; the
// host's is on the provider (HostKubeconfig), and the whole environment,
// usable as cctest's framework.Environment, is Environment().
package e2eprov

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/e2e-framework/support"

	embeddedenv "github.com/cctest/cctest/environments/embedded"
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/internal/buildinfo"
	"github.com/cctest/cctest/simulators/controlplane"
	"github.com/cctest/cctest/simulators/embedded"
)

// Embedded is the embedded platform as an e2e-framework cluster provider:
// a thin wrapper over environments/embedded.
type Embedded struct {
	adapter
	name    string
	version string
	binary  string // the cctest binary that runs the control planes (WithPath)
	opts    embeddedenv.Options

	provider *embeddedenv.Provider
}

var _ support.E2EClusterProvider = (*Embedded)(nil)

// NewEmbedded returns the provider; configure it with the With… methods
// and EmbeddedDir / EmbeddedFaults / EmbeddedLog options.
func NewEmbedded() *Embedded {
	return &Embedded{adapter: adapter{what: "embedded provider", tenant: "the embedded tenant", wait: 2 * time.Minute}}
}

// EmbeddedDir keeps the platform's state (kubeconfigs, logs) in dir instead
// of a temporary directory removed by Destroy.
func EmbeddedDir(dir string) support.ClusterOpts {
	return func(p support.E2EClusterProvider) {
		if e, ok := p.(*Embedded); ok {
			e.opts.Dir = dir
		}
	}
}

// EmbeddedFaults starts the platform with faults (see `cctest faults`).
func EmbeddedFaults(fs faults.Set) support.ClusterOpts {
	return func(p support.E2EClusterProvider) {
		if e, ok := p.(*Embedded); ok {
			e.opts.Faults = fs
		}
	}
}

// EmbeddedLog receives the platform's log lines.
func EmbeddedLog(w io.Writer) support.ClusterOpts {
	return func(p support.E2EClusterProvider) {
		if e, ok := p.(*Embedded); ok {
			e.opts.Log = w
		}
	}
}

// WithName names the cluster (it is only a name here: the key e2e-framework
// stores the provider under).
func (e *Embedded) WithName(name string) support.E2EClusterProvider { e.name = name; return e }

// WithVersion pins the Kubernetes version; the embedded control plane has
// exactly one (buildinfo.KubernetesVersion), so another one fails Create.
func (e *Embedded) WithVersion(v string) support.E2EClusterProvider { e.version = v; return e }

// WithPath is the cctest binary that runs the control planes (default
// $CCTEST_BIN, or the running executable when it is cctest).
func (e *Embedded) WithPath(path string) support.E2EClusterProvider { e.binary = path; return e }

// WithOpts applies options such as EmbeddedDir.
func (e *Embedded) WithOpts(opts ...support.ClusterOpts) support.E2EClusterProvider {
	for _, o := range opts {
		o(e)
	}
	return e
}

// SetDefaults fills the name and the wait timeout.
func (e *Embedded) SetDefaults() support.E2EClusterProvider {
	if e.name == "" {
		e.name = "cctest"
	}
	if e.wait == 0 {
		e.wait = 2 * time.Minute
	}
	return e
}

// Create starts the platform and returns the tenant's kubeconfig path.
func (e *Embedded) Create(ctx context.Context, args ...string) (string, error) {
	if len(args) > 0 {
		return "", fmt.Errorf("embedded provider: Create takes no arguments (got %q); configure it with EmbeddedDir, EmbeddedFaults, CreateWithConfig", args)
	}
	if e.cluster != nil {
		return "", errors.New("embedded provider: already created")
	}
	if e.version != "" && e.version != buildinfo.KubernetesVersion {
		return "", fmt.Errorf("embedded provider: Kubernetes %s asked for, but the embedded control plane is %s", e.version, buildinfo.KubernetesVersion)
	}
	o := e.opts
	o.Binary = e.binary
	if o.Binary == "" {
		b, err := controlplane.Binary()
		if err != nil {
			return "", fmt.Errorf("embedded provider: %w (or pass it with WithPath)", err)
		}
		o.Binary = b
	}
	p := embeddedenv.New(o)
	c, err := p.Create(ctx)
	if err != nil {
		return "", fmt.Errorf("embedded provider: %w", err)
	}
	e.provider, e.cluster = p, c
	return c.TenantKubeconfig, nil
}

// CreateWithConfig starts the platform with configFile as the tenant's
// vcluster.yaml (private nodes with auto-node pools).
func (e *Embedded) CreateWithConfig(ctx context.Context, configFile string) (string, error) {
	b, err := os.ReadFile(configFile)
	if err != nil {
		return "", fmt.Errorf("embedded provider: the tenant's vcluster.yaml: %w", err)
	}
	e.opts.VCluster, e.opts.VClusterName = b, configFile
	return e.Create(ctx)
}

// SharedTenantKubeconfig is the second tenant's, on shared nodes with
// RuntimeClass sync from the host.
func (e *Embedded) SharedTenantKubeconfig() string {
	if e.cluster == nil {
		return ""
	}
	return e.cluster.SharedKubeconfig
}

// Platform is the running platform (nil before Create).
func (e *Embedded) Platform() *embedded.Platform {
	if e.provider == nil {
		return nil
	}
	return e.provider.Platform()
}

// ExportLogs copies the control planes' logs to dest.
func (e *Embedded) ExportLogs(ctx context.Context, dest string) error {
	if e.cluster == nil {
		return errors.New("embedded provider: not created")
	}
	return copyLogs(e.cluster.Dir, dest)
}

// Destroy stops the platform and removes its temporary directory.
func (e *Embedded) Destroy(ctx context.Context) error {
	if e.provider == nil {
		return nil
	}
	err := e.provider.Destroy(ctx)
	e.provider, e.cluster = nil, nil
	return err
}

func currentContext(path string) string {
	if path == "" {
		return ""
	}
	c, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return ""
	}
	return c.CurrentContext
}

// copyLogs copies every *.log under src to dest, keeping relative paths.
func copyLogs(src, dest string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".log" {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out := filepath.Join(dest, rel)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
}
