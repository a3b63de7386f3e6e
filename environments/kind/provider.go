package kind

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/cctest/cctest/environments"
	"github.com/cctest/cctest/environments/kubeconfig"
	"github.com/cctest/cctest/probe/image"
	"github.com/cctest/cctest/simulators/controlplane"
)

// Name is the provider's name.
const Name = "kind"

// TimeoutScale of a kind environment: real nodes, real image pulls.
const TimeoutScale = 5

// ProbeImageFile is the tarball the Provider builds under Options.Dir when
// it is given no ProbeImageTar.
const ProbeImageFile = "probe-image.tar"

// Provider is the kind environment as an environments.Provider: Create
// checks for a container engine, builds the probe image if it has none,
// then runs Create; Destroy deletes the cluster unless Options.Keep.
// Progress lines (one per step, and the environment's gaps) go to
// Options.Log.
type Provider struct {
	opts    Options
	ownDir  bool
	cluster *Cluster
}

var _ environments.Provider = (*Provider)(nil)

// NewProvider returns the provider for o; Dir defaults to a temporary
// directory that Destroy removes (unless Keep).
func NewProvider(o Options) *Provider { return &Provider{opts: o} }

// Name is "kind".
func (p *Provider) Name() string { return Name }

// Create makes the environment: the host cluster, vCluster from its chart,
// the probe image in the nodes.
func (p *Provider) Create(ctx context.Context) (*environments.Cluster, error) {
	if p.cluster != nil {
		return nil, errors.New("kind: the environment is already created")
	}
	begin := time.Now()
	o := p.opts
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Engine == nil {
		// Before anything else: without an engine there is nothing to do.
		if err := CheckEngine(); err != nil {
			return nil, err
		}
	}
	probeBin := ""
	if o.ProbeImageTar == "" {
		var err error
		if probeBin, err = probeBinary(o.ProbeBinary); err != nil {
			return nil, err
		}
	}
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "cctest-kind-")
		if err != nil {
			return nil, err
		}
		o.Dir, p.ownDir = d, true
	} else if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	p.opts.Dir = o.Dir
	if probeBin != "" {
		o.ProbeImageTar = filepath.Join(o.Dir, ProbeImageFile)
		if err := image.Build(probeBin, "", o.ProbeImageTar); err != nil {
			p.cleanDir()
			return nil, fmt.Errorf("probe image: %w", err)
		}
	}
	kc, err := Create(ctx, o)
	if err != nil {
		p.cleanDir()
		return nil, err
	}
	p.cluster = kc
	for _, gap := range kc.Gaps {
		fmt.Fprintf(o.Log, "kind environment gap: %s\n", gap)
	}
	// Create waited for both APIs; the shared-nodes tenant is the tenant
	// itself (the chart's shape is shared nodes with RuntimeClass sync).
	c := &environments.Cluster{
		EnvName: Name, Scale: TimeoutScale, Dir: kc.Dir, ProbeImage: kc.ProbeImage, Gaps: kc.Gaps,
		TenantKubeconfig: kc.TenantKubeconfig, HostKubeconfig: kc.HostKubeconfig, SharedKubeconfig: kc.TenantKubeconfig,
	}
	what := fmt.Sprintf("the kind host cluster %q", kc.Name)
	if c.HostConfig, err = kubeconfig.Load(kc.HostKubeconfig, what); err == nil {
		if c.TenantConfig, err = kubeconfig.Load(kc.TenantKubeconfig, "the kind tenant"); err == nil {
			c.SharedConfig, err = kubeconfig.Load(kc.TenantKubeconfig, "the kind tenant")
		}
	}
	if err != nil {
		p.Destroy(context.WithoutCancel(ctx))
		return nil, err
	}
	c.Started = time.Since(begin)
	return c, nil
}

// probeBinary is the cctest-probe binary to build the image from.
func probeBinary(given string) (string, error) {
	if given != "" {
		if st, err := os.Stat(given); err != nil || st.IsDir() {
			return "", fmt.Errorf("kind: no probe binary at %s: build it with `make probe`", given)
		}
		return given, nil
	}
	bin, err := controlplane.Binary()
	if err != nil {
		return "", err
	}
	probe := filepath.Join(filepath.Dir(bin), "cctest-probe")
	if _, err := os.Stat(probe); err != nil {
		return "", fmt.Errorf("--env kind needs the probe binary beside cctest (%s): build it with `make probe`", probe)
	}
	return probe, nil
}

// Cluster is the created kind environment (nil before Create and after
// Destroy): image loading, log collection.
func (p *Provider) Cluster() *Cluster { return p.cluster }

// Destroy ends the environment: it deletes the cluster, or with Keep says
// how to delete it later (Cluster.Close), and removes a temporary Dir
// unless Keep.
func (p *Provider) Destroy(ctx context.Context) error {
	if p.cluster == nil {
		return nil
	}
	err := p.cluster.Close(ctx)
	p.cluster = nil
	p.cleanDir()
	return err
}

func (p *Provider) cleanDir() {
	if p.ownDir && !p.opts.Keep {
		os.RemoveAll(p.opts.Dir)
		p.opts.Dir, p.ownDir = "", false
	}
}
