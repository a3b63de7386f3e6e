// Package framework is what specs use: the environment under test, clients,
// labels, per-spec namespaces, waiters and diagnostics. Specs see only what a
// real cluster shows: everything here goes through the Kubernetes API.
package framework

import (
	"errors"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Environment is a platform under test: the embedded simulated one, a kind
// host with vCluster, or an existing tenant cluster.
type Environment interface {
	// Name is "embedded", "kind" or "existing".
	Name() string
	// Tenant is the tenant cluster's API (required).
	Tenant() *rest.Config
	// Host is the host cluster's API, nil when the run has no access to it.
	Host() *rest.Config
	// SharedTenant is a tenant on shared nodes with RuntimeClass sync from
	// the host, nil when the run has none (sync specs then skip, saying so).
	SharedTenant() *rest.Config
	// TimeoutScale stretches every wait (1 for the embedded platform, more
	// for real clusters where nodes boot for minutes).
	TimeoutScale() float64
}

// OtherTenants is an Environment that also gives other tenants of the same
// platform (cctest run --other-tenant-kubeconfig): the tenancy spec checks
// no machine backs nodes or guests of two of them.
type OtherTenants interface {
	OtherTenants() []*rest.Config
}

// Clients bundles the API clients a spec uses.
type Clients struct {
	Tenant     kubernetes.Interface
	Host       kubernetes.Interface // nil without host access
	HostDyn    dynamic.Interface    // nil without host access
	TenantDyn  dynamic.Interface
	TenantRest *rest.Config
	Shared     kubernetes.Interface // nil without a shared-nodes tenant
	// Others are other tenants' APIs (OtherTenants), for the tenancy spec.
	Others []kubernetes.Interface
}

// NewClients builds clients for an environment.
func NewClients(e Environment) (*Clients, error) {
	if e == nil || e.Tenant() == nil {
		return nil, errors.New("framework: the environment has no tenant config")
	}
	c := &Clients{TenantRest: e.Tenant()}
	var err error
	if c.Tenant, err = kubernetes.NewForConfig(e.Tenant()); err != nil {
		return nil, err
	}
	if c.TenantDyn, err = dynamic.NewForConfig(e.Tenant()); err != nil {
		return nil, err
	}
	if sh := e.SharedTenant(); sh != nil {
		if c.Shared, err = kubernetes.NewForConfig(sh); err != nil {
			return nil, err
		}
	}
	if o, ok := e.(OtherTenants); ok {
		for _, cfg := range o.OtherTenants() {
			cs, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return nil, err
			}
			c.Others = append(c.Others, cs)
		}
	}
	if h := e.Host(); h != nil {
		if c.Host, err = kubernetes.NewForConfig(h); err != nil {
			return nil, err
		}
		if c.HostDyn, err = dynamic.NewForConfig(h); err != nil {
			return nil, err
		}
	}
	return c, nil
}
