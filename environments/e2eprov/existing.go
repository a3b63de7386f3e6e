package e2eprov

import (
	"context"
	"errors"
	"fmt"

	"sigs.k8s.io/e2e-framework/support"

	"github.com/cctest/cctest/environments/existing"
)

// Existing is a running tenant (and optionally its host and a
// shared-nodes tenant), reached through kubeconfig files, as an
// e2e-framework cluster provider: a thin wrapper over existing.Provider.
// It creates and deletes nothing.
type Existing struct {
	adapter
	opts existing.Options
}

var _ support.E2EClusterProvider = (*Existing)(nil)

// NewExisting returns the provider for o (existing.Options; Tenant is the
// tenant's kubeconfig path).
func NewExisting(o existing.Options) *Existing {
	return &Existing{adapter: adapter{what: "existing provider", tenant: "the tenant"}, opts: o}
}

// WithName is ignored: an existing cluster already has its name.
func (e *Existing) WithName(string) support.E2EClusterProvider { return e }

// WithVersion is ignored: an existing cluster runs what it runs.
func (e *Existing) WithVersion(string) support.E2EClusterProvider { return e }

// WithPath is the tenant's kubeconfig path.
func (e *Existing) WithPath(path string) support.E2EClusterProvider { e.opts.Tenant = path; return e }

// WithOpts applies options.
func (e *Existing) WithOpts(opts ...support.ClusterOpts) support.E2EClusterProvider {
	for _, o := range opts {
		o(e)
	}
	return e
}

// SetDefaults leaves the defaults to existing.Options.
func (e *Existing) SetDefaults() support.E2EClusterProvider { return e }

// Create connects (every kubeconfig must reach its API) and returns the
// tenant's kubeconfig path.
func (e *Existing) Create(ctx context.Context, args ...string) (string, error) {
	if len(args) > 0 {
		return "", fmt.Errorf("existing provider: Create takes no arguments (got %q); give the kubeconfigs in existing.Options", args)
	}
	if e.cluster != nil {
		return "", errors.New("existing provider: already connected")
	}
	e.wait = e.opts.ReachTimeout
	if e.wait == 0 {
		e.wait = existing.DefaultReachTimeout
	}
	c, err := existing.New(e.opts).Create(ctx)
	if err != nil {
		return "", err
	}
	e.cluster = c
	return c.TenantKubeconfig, nil
}

// CreateWithConfig is not supported: the cluster exists already.
func (e *Existing) CreateWithConfig(context.Context, string) (string, error) {
	return "", errors.New("existing provider: the cluster exists already; it takes no config file")
}

// ExportLogs is not supported: cctest does not read a real cluster's node logs.
func (e *Existing) ExportLogs(context.Context, string) error {
	return errors.New("existing provider: exporting logs of an existing cluster is not supported")
}

// Destroy forgets the connection; the cluster stays.
func (e *Existing) Destroy(context.Context) error {
	e.cluster = nil
	return nil
}
