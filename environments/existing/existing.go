// Package existing is the environment of running clusters, reached through
// their kubeconfigs (`cctest run --kubeconfig`): a real tenant, and
// optionally its host and a shared-nodes tenant. Create loads each
// kubeconfig and fails early, naming the cluster and the file, when one is
// missing or its API does not answer.
package existing

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/rest"

	"github.com/cctest/cctest/environments"
	"github.com/cctest/cctest/environments/kubeconfig"
)

// Name is the provider's name.
const Name = "existing"

// Defaults.
const (
	DefaultReachTimeout = 20 * time.Second
	// DefaultTimeoutScale: real clusters boot nodes for minutes.
	DefaultTimeoutScale = 5
)

// Options name the kubeconfigs. Tenant is required.
type Options struct {
	Tenant, Host, Shared string // kubeconfig paths ("" = none; Tenant required)
	// Others are kubeconfigs of other tenants of the same platform.
	Others []string
	// TenantContext, HostContext and SharedContext pick a context of each
	// file ("" = its current context), like kubectl --context.
	TenantContext, HostContext, SharedContext string
	// TenantFlag, HostFlag and SharedFlag name the files in errors as the
	// user gave them (e.g. "--kubeconfig"); default "tenant kubeconfig",
	// "host kubeconfig", "shared-tenant kubeconfig".
	TenantFlag, HostFlag, SharedFlag string
	// ReachTimeout bounds the wait for each API (default 20s).
	ReachTimeout time.Duration
	// TimeoutScale of the Cluster (default 5).
	TimeoutScale float64
}

// Provider connects to existing clusters; it starts nothing, so Destroy
// has nothing to do.
type Provider struct{ opts Options }

var _ environments.Provider = (*Provider)(nil)

// New returns the provider for o.
func New(o Options) *Provider {
	if o.TenantFlag == "" {
		o.TenantFlag = "tenant kubeconfig"
	}
	if o.HostFlag == "" {
		o.HostFlag = "host kubeconfig"
	}
	if o.SharedFlag == "" {
		o.SharedFlag = "shared-tenant kubeconfig"
	}
	if o.ReachTimeout == 0 {
		o.ReachTimeout = DefaultReachTimeout
	}
	if o.TimeoutScale == 0 {
		o.TimeoutScale = DefaultTimeoutScale
	}
	return &Provider{opts: o}
}

// Name is "existing".
func (p *Provider) Name() string { return Name }

// Create loads the kubeconfigs and waits until each API answers.
func (p *Provider) Create(ctx context.Context) (*environments.Cluster, error) {
	begin := time.Now()
	o := p.opts
	load := func(path, context, flag, what string) (*rest.Config, error) {
		cfg, err := kubeconfig.LoadContext(path, context, what)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		if err := kubeconfig.WaitReachable(ctx, cfg, what, o.ReachTimeout); err != nil {
			return nil, fmt.Errorf("%s %s: %w", flag, path, err)
		}
		return cfg, nil
	}
	c := &environments.Cluster{EnvName: Name, Scale: o.TimeoutScale, TenantKubeconfig: o.Tenant}
	var err error
	if c.TenantConfig, err = load(o.Tenant, o.TenantContext, o.TenantFlag, "the tenant"); err != nil {
		return nil, err
	}
	if o.Host != "" {
		if c.HostConfig, err = load(o.Host, o.HostContext, o.HostFlag, "the host cluster"); err != nil {
			return nil, err
		}
		c.HostKubeconfig = o.Host
	}
	if o.Shared != "" {
		if c.SharedConfig, err = load(o.Shared, o.SharedContext, o.SharedFlag, "the shared-nodes tenant"); err != nil {
			return nil, err
		}
		c.SharedKubeconfig = o.Shared
	}
	for i, path := range o.Others {
		cfg, err := load(path, "", "--other-tenant-kubeconfig", fmt.Sprintf("other tenant %d", i+1))
		if err != nil {
			return nil, err
		}
		c.OtherConfigs = append(c.OtherConfigs, cfg)
	}
	c.Started = time.Since(begin)
	return c, nil
}

// Destroy does nothing: the clusters belong to someone else.
func (p *Provider) Destroy(context.Context) error { return nil }
