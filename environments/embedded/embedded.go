// Package embedded is the default environment: the simulated
// confidential-compute platform of simulators/embedded (host, tenant and
// shared-nodes tenant control planes in child processes of the cctest
// binary, auto nodes behind the attestation gate, simulated kubelets).
// No Docker, no network; ready in seconds.
//
// The provider prints no progress lines of its own: `cctest run` and
// `cctest env up` each say what they start in their own words. The
// platform's own log goes to Options.Log or Options.LogFile.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"k8s.io/client-go/rest"

	"github.com/cctest/cctest/environments"
	"github.com/cctest/cctest/environments/kubeconfig"
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/simulators/controlplane"
	sim "github.com/cctest/cctest/simulators/embedded"
)

// Name is the provider's name.
const Name = "embedded"

// Options configure the platform. Zero values take the reference
// configuration.
type Options struct {
	// Dir is the state directory (kubeconfigs, data, logs). Empty: a
	// temporary directory that Destroy removes; a given Dir is left to
	// the caller.
	Dir string
	// Binary is the cctest binary that runs the control planes (default
	// controlplane.Binary: $CCTEST_BIN or the running cctest).
	Binary string
	// Faults start the platform broken (see `cctest faults`).
	Faults faults.Set
	// VCluster is the tenant's vcluster.yaml (default: the reference
	// fixture); VClusterName names it in errors.
	VCluster     []byte
	VClusterName string
	// Log receives the platform's log lines. Without it, LogFile (if
	// set) is created by Create and closed by Destroy.
	Log     io.Writer
	LogFile string
}

// Provider starts and stops the embedded platform.
type Provider struct {
	opts     Options
	dir      string
	ownDir   bool
	logFile  *os.File
	platform *sim.Platform
}

var _ environments.Provider = (*Provider)(nil)

// New returns the provider for o.
func New(o Options) *Provider { return &Provider{opts: o} }

// Name is "embedded".
func (p *Provider) Name() string { return Name }

// Create starts the platform and returns when it serves.
func (p *Provider) Create(ctx context.Context) (*environments.Cluster, error) {
	if p.platform != nil {
		return nil, errors.New("the embedded platform is already started")
	}
	begin := time.Now()
	o := p.opts
	if o.Binary == "" {
		b, err := controlplane.Binary()
		if err != nil {
			return nil, err
		}
		o.Binary = b
	} else if st, err := os.Stat(o.Binary); err != nil || st.IsDir() {
		return nil, fmt.Errorf("the cctest binary %s does not exist (build it with `make build`)", o.Binary)
	}
	p.dir = o.Dir
	if p.dir == "" {
		d, err := os.MkdirTemp("", "cctest-embedded-")
		if err != nil {
			return nil, err
		}
		p.dir, p.ownDir = d, true
	}
	log := o.Log
	if log == nil && o.LogFile != "" {
		f, err := os.Create(o.LogFile)
		if err != nil {
			p.release()
			return nil, err
		}
		p.logFile, log = f, f
	}
	plat, err := sim.Start(ctx, sim.Options{
		Dir: p.dir, Binary: o.Binary, Faults: o.Faults, Log: log,
		VCluster: o.VCluster, VClusterName: []byte(o.VClusterName),
	})
	if err != nil {
		p.release()
		return nil, err
	}
	p.platform = plat
	c := &environments.Cluster{
		EnvName: Name, Scale: 1, Dir: p.dir,
		TenantKubeconfig: plat.Pair.TenantKubeconfig(),
		HostKubeconfig:   plat.Pair.HostKubeconfig(),
		SharedKubeconfig: plat.SharedTenantKubeconfig(),
	}
	c.KBS = &environments.KBS{}
	c.KBS.URL, c.KBS.CAPEM, c.KBS.AdminKey = plat.KBS()
	if p.logFile != nil {
		c.LogFile = p.logFile.Name()
	}
	for _, k := range []struct {
		cfg        **rest.Config
		path, what string
	}{
		{&c.TenantConfig, c.TenantKubeconfig, "the embedded tenant"},
		{&c.HostConfig, c.HostKubeconfig, "the embedded host cluster"},
		{&c.SharedConfig, c.SharedKubeconfig, "the embedded shared-nodes tenant"},
	} {
		if *k.cfg, err = kubeconfig.Load(k.path, k.what); err != nil {
			p.Destroy(context.WithoutCancel(ctx))
			return nil, err
		}
	}
	c.Started = time.Since(begin)
	return c, nil
}

// Platform is the running platform (nil before Create and after Destroy):
// its control-plane processes (Pair.Host.Exited()) and clients.
func (p *Provider) Platform() *sim.Platform { return p.platform }

// Destroy stops the simulators and the control planes (no child process
// is left), closes the log file it opened and removes a temporary Dir.
func (p *Provider) Destroy(context.Context) error {
	var err error
	if p.platform != nil {
		err = p.platform.Stop()
		p.platform = nil
	}
	p.release()
	return err
}

func (p *Provider) release() {
	if p.logFile != nil {
		p.logFile.Close()
		p.logFile = nil
	}
	if p.ownDir {
		os.RemoveAll(p.dir)
		p.ownDir = false
	}
	p.dir = ""
}
