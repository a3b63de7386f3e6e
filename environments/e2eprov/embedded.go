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
// `cctest run --env kind`. Both hand e2e-framework the tenant's
// kubeconfig; the host's is on the provider (HostKubeconfig).
package e2eprov

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/e2e-framework/klient"
	"sigs.k8s.io/e2e-framework/support"

	"github.com/cctest/cctest/environments/kubeconfig"
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/internal/buildinfo"
	"github.com/cctest/cctest/simulators/controlplane"
	"github.com/cctest/cctest/simulators/embedded"
)

// Embedded is the embedded platform as an e2e-framework cluster provider.
type Embedded struct {
	name    string
	version string
	binary  string // the cctest binary that runs the control planes (WithPath)
	dir     string
	ownDir  bool
	opts    embedded.Options
	timeout time.Duration

	platform *embedded.Platform
	cfg      *rest.Config
}

var _ support.E2EClusterProvider = (*Embedded)(nil)

// NewEmbedded returns the provider; configure it with the With… methods
// and EmbeddedDir / EmbeddedFaults / EmbeddedLog options.
func NewEmbedded() *Embedded { return &Embedded{} }

// EmbeddedDir keeps the platform's state (kubeconfigs, logs) in dir instead
// of a temporary directory removed by Destroy.
func EmbeddedDir(dir string) support.ClusterOpts {
	return func(p support.E2EClusterProvider) {
		if e, ok := p.(*Embedded); ok {
			e.dir = dir
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
	if e.timeout == 0 {
		e.timeout = 2 * time.Minute
	}
	return e
}

// Create starts the platform and returns the tenant's kubeconfig path.
func (e *Embedded) Create(ctx context.Context, args ...string) (string, error) {
	if len(args) > 0 {
		return "", fmt.Errorf("embedded provider: Create takes no arguments (got %q); configure it with EmbeddedDir, EmbeddedFaults, CreateWithConfig", args)
	}
	if e.platform != nil {
		return "", errors.New("embedded provider: already created")
	}
	if e.version != "" && e.version != buildinfo.KubernetesVersion {
		return "", fmt.Errorf("embedded provider: Kubernetes %s asked for, but the embedded control plane is %s", e.version, buildinfo.KubernetesVersion)
	}
	bin := e.binary
	if bin == "" {
		b, err := controlplane.Binary()
		if err != nil {
			return "", fmt.Errorf("embedded provider: %w (or pass it with WithPath)", err)
		}
		bin = b
	}
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		return "", fmt.Errorf("embedded provider: the cctest binary %s does not exist (build it with `make build`)", bin)
	}
	if e.dir == "" {
		d, err := os.MkdirTemp("", "cctest-e2e-")
		if err != nil {
			return "", err
		}
		e.dir, e.ownDir = d, true
	}
	o := e.opts
	o.Dir, o.Binary = e.dir, bin
	p, err := embedded.Start(ctx, o)
	if err != nil {
		e.cleanDir()
		return "", fmt.Errorf("embedded provider: %w", err)
	}
	e.platform = p
	cfg, err := kubeconfig.Load(e.GetKubeconfig(), "the embedded tenant")
	if err != nil {
		e.Destroy(ctx)
		return "", err
	}
	e.cfg = cfg
	return e.GetKubeconfig(), nil
}

// CreateWithConfig starts the platform with configFile as the tenant's
// vcluster.yaml (private nodes with auto-node pools).
func (e *Embedded) CreateWithConfig(ctx context.Context, configFile string) (string, error) {
	b, err := os.ReadFile(configFile)
	if err != nil {
		return "", fmt.Errorf("embedded provider: the tenant's vcluster.yaml: %w", err)
	}
	e.opts.VCluster, e.opts.VClusterName = b, []byte(configFile)
	return e.Create(ctx)
}

// GetKubeconfig is the tenant's kubeconfig path ("" before Create).
func (e *Embedded) GetKubeconfig() string {
	if e.platform == nil {
		return ""
	}
	return e.platform.Pair.TenantKubeconfig()
}

// HostKubeconfig is the host cluster's kubeconfig path (NodeClaims,
// NodeTypes, the BareMetalHost inventory live there).
func (e *Embedded) HostKubeconfig() string {
	if e.platform == nil {
		return ""
	}
	return e.platform.Pair.HostKubeconfig()
}

// SharedTenantKubeconfig is the second tenant's, on shared nodes with
// RuntimeClass sync from the host.
func (e *Embedded) SharedTenantKubeconfig() string {
	if e.platform == nil {
		return ""
	}
	return e.platform.SharedTenantKubeconfig()
}

// Platform is the running platform (nil before Create).
func (e *Embedded) Platform() *embedded.Platform { return e.platform }

// GenerateKubeconfig returns the tenant's kubeconfig path; the platform
// writes one admin kubeconfig, so there is nothing to generate.
func (e *Embedded) GenerateKubeconfig(args ...string) (string, error) {
	if e.platform == nil {
		return "", errors.New("embedded provider: not created")
	}
	return e.GetKubeconfig(), nil
}

// GetKubectlContext is the tenant kubeconfig's current context.
func (e *Embedded) GetKubectlContext() string { return currentContext(e.GetKubeconfig()) }

// ExportLogs copies the control planes' logs to dest.
func (e *Embedded) ExportLogs(ctx context.Context, dest string) error {
	if e.dir == "" {
		return errors.New("embedded provider: not created")
	}
	return copyLogs(e.dir, dest)
}

// Destroy stops the platform and removes its temporary directory.
func (e *Embedded) Destroy(ctx context.Context) error {
	var err error
	if e.platform != nil {
		err = e.platform.Stop()
		e.platform = nil
	}
	e.cleanDir()
	return err
}

func (e *Embedded) cleanDir() {
	if e.ownDir {
		os.RemoveAll(e.dir)
		e.dir, e.ownDir = "", false
	}
}

// WaitForControlPlane waits until the tenant API answers (Create already
// returns a serving platform; this covers a slow machine).
func (e *Embedded) WaitForControlPlane(ctx context.Context, _ klient.Client) error {
	if e.cfg == nil {
		return errors.New("embedded provider: not created")
	}
	return kubeconfig.WaitReachable(ctx, e.cfg, "the embedded tenant", e.timeout)
}

// KubernetesRestConfig is the tenant's rest config (nil before Create).
func (e *Embedded) KubernetesRestConfig() *rest.Config { return e.cfg }

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
