package e2eprov

import (
	"context"
	"errors"
	"fmt"
	"os"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/e2e-framework/klient"
	"sigs.k8s.io/e2e-framework/support"

	"github.com/cctest/cctest/environments/kind"
	"github.com/cctest/cctest/environments/kubeconfig"
)

// Kind is the kind environment (kind host, vCluster from its chart,
// simulated TEE workers, the probe image loaded) as an e2e-framework
// cluster provider. It needs a container engine and the helm CLI.
type Kind struct {
	opts    kind.Options
	ownDir  bool
	cluster *kind.Cluster
	cfg     *rest.Config
}

var _ support.E2EClusterProviderWithImageLoader = (*Kind)(nil)

// NewKind returns the provider for o (kind.Options; ProbeImageTar is
// required, Dir defaults to a temporary directory).
func NewKind(o kind.Options) *Kind { return &Kind{opts: o} }

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
	if k.opts.Dir == "" {
		d, err := os.MkdirTemp("", "cctest-kind-")
		if err != nil {
			return "", err
		}
		k.opts.Dir, k.ownDir = d, true
	}
	c, err := kind.Create(ctx, k.opts)
	if err != nil {
		k.cleanDir()
		return "", err
	}
	k.cluster = c
	cfg, err := kubeconfig.Load(c.TenantKubeconfig, "the kind tenant")
	if err != nil {
		return "", err
	}
	k.cfg = cfg
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

// Cluster is the created environment (nil before Create).
func (k *Kind) Cluster() *kind.Cluster { return k.cluster }

// GetKubeconfig is the tenant's kubeconfig path.
func (k *Kind) GetKubeconfig() string {
	if k.cluster == nil {
		return ""
	}
	return k.cluster.TenantKubeconfig
}

// HostKubeconfig is the kind host cluster's kubeconfig path.
func (k *Kind) HostKubeconfig() string {
	if k.cluster == nil {
		return ""
	}
	return k.cluster.HostKubeconfig
}

// GenerateKubeconfig returns the tenant's kubeconfig path.
func (k *Kind) GenerateKubeconfig(args ...string) (string, error) {
	if k.cluster == nil {
		return "", errors.New("kind provider: not created")
	}
	return k.cluster.TenantKubeconfig, nil
}

// GetKubectlContext is the tenant kubeconfig's current context.
func (k *Kind) GetKubectlContext() string { return currentContext(k.GetKubeconfig()) }

// ExportLogs writes the kind nodes' logs to dest.
func (k *Kind) ExportLogs(ctx context.Context, dest string) error {
	if k.cluster == nil {
		return errors.New("kind provider: not created")
	}
	return k.cluster.CollectLogs(ctx, dest)
}

// Destroy deletes the cluster unless kind.Options.Keep.
func (k *Kind) Destroy(ctx context.Context) error {
	if k.cluster == nil {
		return nil
	}
	err := k.cluster.Close(ctx)
	k.cluster = nil
	if !k.opts.Keep {
		k.cleanDir()
	}
	return err
}

func (k *Kind) cleanDir() {
	if k.ownDir {
		os.RemoveAll(k.opts.Dir)
		k.opts.Dir, k.ownDir = "", false
	}
}

// WaitForControlPlane waits until the tenant API answers.
func (k *Kind) WaitForControlPlane(ctx context.Context, _ klient.Client) error {
	if k.cfg == nil {
		return errors.New("kind provider: not created")
	}
	timeout := k.opts.WaitTimeout
	if timeout == 0 {
		timeout = kind.DefaultWaitTimeout
	}
	return kubeconfig.WaitReachable(ctx, k.cfg, "the kind tenant", timeout)
}

// KubernetesRestConfig is the tenant's rest config.
func (k *Kind) KubernetesRestConfig() *rest.Config { return k.cfg }

// LoadImage is not supported: it would export the image from a Docker
// daemon; build an image tarball and use LoadImageArchive.
func (k *Kind) LoadImage(ctx context.Context, image string, args ...string) error {
	return fmt.Errorf("kind provider: LoadImage(%s) needs `docker save`; cctest loads image tarballs only: use LoadImageArchive", image)
}

// LoadImageArchive loads an image tarball into every node.
func (k *Kind) LoadImageArchive(ctx context.Context, archive string, args ...string) error {
	if k.cluster == nil {
		return errors.New("kind provider: not created")
	}
	return k.cluster.LoadImageArchive(ctx, archive)
}
