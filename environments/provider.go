// Package environments is where a run's clusters come from: one Provider
// interface and three providers, each in its own package:
//
//   - environments/embedded starts the simulated platform (host, tenant and
//     shared-nodes tenant control planes in child processes, simulators);
//   - environments/kind creates a kind host cluster with vCluster from its
//     chart;
//   - environments/existing connects to running clusters through their
//     kubeconfigs.
//
// The interface is modelled on kind's cluster provider and e2e-framework's
// support.E2EClusterProvider, reduced to what cctest's callers use: Create
// starts (or connects to) the clusters and returns them as a Cluster,
// Destroy releases whatever Create made. environments/e2eprov wraps the
// providers for e2e-framework.
//
// Imports run downward: cli → framework → environments → simulators. This
// package and its providers never import framework, suites or cli; Cluster
// has the methods of framework.Environment so a runner can hand it over.
package environments

import (
	"context"
	"crypto/ed25519"
	"time"

	"k8s.io/client-go/rest"
)

// Provider makes an environment's clusters. A Provider is configured by its
// package's Options (progress writer, faults, keep, …) and creates at most
// one Cluster.
type Provider interface {
	// Name is "embedded", "kind" or "existing".
	Name() string
	// Create starts the environment, or connects to it, and returns when
	// its APIs answer. On error nothing it started is left running.
	Create(ctx context.Context) (*Cluster, error)
	// Destroy stops what Create started (for kind, unless told to keep the
	// cluster). It is safe to call without a Cluster and more than once.
	Destroy(ctx context.Context) error
}

// Cluster is a created environment: its APIs as rest configs and, where
// the provider has them, the kubeconfig files they come from. It is a
// plain value; its methods make it a framework.Environment.
type Cluster struct {
	// EnvName is the provider's Name.
	EnvName string
	// TenantConfig is the tenant's API (always set). HostConfig is the
	// host cluster's, nil without host access. SharedConfig is a tenant on
	// shared nodes with RuntimeClass sync from the host, nil if none.
	TenantConfig, HostConfig, SharedConfig *rest.Config
	// Kubeconfig files of the three ("" where there is none).
	TenantKubeconfig, HostKubeconfig, SharedKubeconfig string
	// OtherConfigs are other tenants of the same platform (the tenancy
	// spec checks no machine backs two tenants).
	OtherConfigs []*rest.Config
	// Scale stretches every wait: 1 for the embedded platform, more for
	// real clusters (0 means 1).
	Scale float64

	// Dir holds what the provider wrote (kubeconfigs, data, logs); "" for
	// an existing environment.
	Dir string
	// LogFile is the platform's log file, if it writes one.
	LogFile string
	// Started is how long Create took.
	Started time.Duration
	// ProbeImage is the probe image loaded into the nodes ("" = the
	// runner's default).
	ProbeImage string
	// Gaps are parts of the reference platform this environment does not
	// provide, one sentence each.
	Gaps []string
	// KBS is the platform's attestation service as a Trustee KBS, nil when
	// the provider does not know it (give --kbs-url).
	KBS *KBS
}

// KBS is how to reach a Key Broker Service speaking Trustee's protocol,
// and the admin key that may put resources into it (nil: no admin access).
type KBS struct {
	URL      string
	CAPEM    []byte
	AdminKey ed25519.PrivateKey
}

// Name is the provider's name ("embedded", "kind", "existing").
func (c Cluster) Name() string { return c.EnvName }

// Tenant is the tenant cluster's API.
func (c Cluster) Tenant() *rest.Config { return c.TenantConfig }

// Host is the host cluster's API, nil without host access.
func (c Cluster) Host() *rest.Config { return c.HostConfig }

// SharedTenant is the shared-nodes tenant's API, nil if there is none.
func (c Cluster) SharedTenant() *rest.Config { return c.SharedConfig }

// OtherTenants are other tenants' APIs (framework.OtherTenants).
func (c Cluster) OtherTenants() []*rest.Config { return c.OtherConfigs }

// TimeoutScale is the factor every wait is stretched by (at least 1 when
// unset).
func (c Cluster) TimeoutScale() float64 {
	if c.Scale <= 0 {
		return 1
	}
	return c.Scale
}
