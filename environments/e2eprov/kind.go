package e2eprov

import (
	"context"
	"errors"
	"fmt"
	"os"

	"sigs.k8s.io/e2e-framework/support"

	"github.com/cctest/cctest/environments/kind"
)

// Kind is the kind environment (kind host, vCluster from its chart,
// simulated TEE workers, the probe image loaded) as an e2e-framework
// cluster provider: a thin wrapper over kind.Provider. It needs a
// container engine and the helm CLI.
type Kind struct {
	adapter
	opts     kind.Options
	provider *kind.Provider
}

var _ support.E2EClusterProviderWithImageLoader = (*Kind)(nil)

// NewKind returns the provider for o (kind.Options; without ProbeImageTar
// the image is built from the cctest-probe binary beside cctest, Dir
// defaults to a temporary directory).
func NewKind(o kind.Options) *Kind {
	return &Kind{adapter: adapter{what: "kind provider", tenant: "the kind tenant"}, opts: o}
}

// KindOptions changes the kind.Options before Create.
func KindOptions(f func(*kind.Options)) support.ClusterOpts {
	return func(p support.E2EClusterProvider) {
		if k, ok := p.(*Kind); ok {
			f(&k.opts)
		}
	}
}

// WithName is the kind cluster's name.
func (k *Kind) WithName(name string) support.E2EClusterProvider { k.opts.Name = name; return k }

// WithVersion picks the kind node image kindest/node:<version>.
func (k *Kind) WithVersion(v string) support.E2EClusterProvider {
	if v != "" {
		k.opts.NodeImage = "kindest/node:" + v
	}
	return k
}

// WithPath is the helm binary (kind itself is a library here).
func (k *Kind) WithPath(path string) support.E2EClusterProvider { k.opts.HelmBinary = path; return k }

// WithOpts applies options such as KindOptions.
func (k *Kind) WithOpts(opts ...support.ClusterOpts) support.E2EClusterProvider {
	for _, o := range opts {
		o(k)
	}
	return k
}

// SetDefaults leaves the defaults to kind.Options.
func (k *Kind) SetDefaults() support.E2EClusterProvider { return k }

// Create makes the environment and returns the tenant's kubeconfig path.
func (k *Kind) Create(ctx context.Context, args ...string) (string, error) {
	if len(args) > 0 {
		return "", fmt.Errorf("kind provider: Create takes no arguments (got %q); configure it with KindOptions", args)
	}
	if k.cluster != nil {
		return "", errors.New("kind provider: already created")
	}
	k.wait = k.opts.WaitTimeout
	if k.wait == 0 {
		k.wait = kind.DefaultWaitTimeout
	}
	p := kind.NewProvider(k.opts)
	c, err := p.Create(ctx)
	if err != nil {
		return "", err
	}
	k.provider, k.cluster = p, c
	return c.TenantKubeconfig, nil
}

// CreateWithConfig uses configFile as the tenant's vcluster.yaml
// (shared-nodes shape).
func (k *Kind) CreateWithConfig(ctx context.Context, configFile string) (string, error) {
	b, err := os.ReadFile(configFile)
	if err != nil {
		return "", fmt.Errorf("kind provider: the tenant's vcluster.yaml: %w", err)
	}
	k.opts.VClusterYAML, k.opts.VClusterFile = b, configFile
	return k.Create(ctx)
}

// Cluster is the created kind cluster (nil before Create).
func (k *Kind) Cluster() *kind.Cluster {
	if k.provider == nil {
		return nil
	}
	return k.provider.Cluster()
}

// ExportLogs writes the kind nodes' logs to dest.
func (k *Kind) ExportLogs(ctx context.Context, dest string) error {
	if k.Cluster() == nil {
		return errors.New("kind provider: not created")
	}
	return k.Cluster().CollectLogs(ctx, dest)
}

// Destroy deletes the cluster unless kind.Options.Keep.
func (k *Kind) Destroy(ctx context.Context) error {
	if k.provider == nil {
		return nil
	}
	err := k.provider.Destroy(ctx)
	k.provider, k.cluster = nil, nil
	return err
}

// LoadImage is not supported: it would export the image from a Docker
// daemon; build an image tarball and use LoadImageArchive.
func (k *Kind) LoadImage(ctx context.Context, image string, args ...string) error {
	return fmt.Errorf("kind provider: LoadImage(%s) needs `docker save`; cctest loads image tarballs only: use LoadImageArchive", image)
}

// LoadImageArchive loads an image tarball into every node.
func (k *Kind) LoadImageArchive(ctx context.Context, archive string, args ...string) error {
	if k.Cluster() == nil {
		return errors.New("kind provider: not created")
	}
	return k.Cluster().LoadImageArchive(ctx, archive)
}
