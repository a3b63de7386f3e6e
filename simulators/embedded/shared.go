package embedded

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"path/filepath"

	"k8s.io/client-go/kubernetes"

	"github.com/cctest/cctest/config"
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/fixtures"
	"github.com/cctest/cctest/simulators/controlplane"
	"github.com/cctest/cctest/simulators/vcluster"
)

// DefaultSharedVCluster configures the second tenant: shared nodes, with
// the seed's RuntimeClass sync (only classes labelled confidential-compute=tdx).
const DefaultSharedVCluster = "reference/vcluster-shared-nodes.yaml"

// KBS is the platform's attestation service as a Trustee KBS (under
// /kbs/v0 on the service's URL), its CA and the KBS operator's admin key.
func (p *Platform) KBS() (url string, caPEM []byte, adminKey ed25519.PrivateKey) {
	return p.att.svc.URL(), p.att.svc.CAPEM(), p.att.kbsAdmin
}

// SharedTenantKubeconfig is where the shared-nodes tenant's kubeconfig is written.
func (p *Platform) SharedTenantKubeconfig() string {
	return filepath.Join(p.Pair.Dir, "shared-tenant.kubeconfig")
}

// launchShared starts the shared-nodes tenant's control plane (in parallel
// with host and tenant, by the caller).
func launchShared(ctx context.Context, bin, dir string) (*controlplane.Process, error) {
	return controlplane.LaunchSharedNodes(ctx, bin, "shared", filepath.Join(dir, "shared"))
}

// syncers returns vCluster's RuntimeClass syncers: one per tenant, each
// configured by its vcluster.yaml. With privateNodes the syncer does nothing,
// as in real vCluster.
func syncers(host kubernetes.Interface, tenant kubernetes.Interface, tenantVC *config.VCluster, shared kubernetes.Interface, fs faults.Set) ([]*vcluster.RuntimeClassSyncer, error) {
	b, err := fixtures.Read(DefaultSharedVCluster)
	if err != nil {
		return nil, err
	}
	svf, err := config.LoadVCluster("fixtures/"+DefaultSharedVCluster, b)
	if err != nil {
		return nil, err
	}
	var out []*vcluster.RuntimeClassSyncer
	for _, t := range []struct {
		name   string
		client kubernetes.Interface
		vc     *config.VCluster
	}{{"tenant", tenant, tenantVC}, {"shared", shared, &svf.Values}} {
		cfg := vcluster.Config{PrivateNodes: t.vc.PrivateNodes != nil && t.vc.PrivateNodes.Enabled, Faults: fs, Logf: func(string, ...any) {}}
		if s := t.vc.RuntimeClassSync(); s != nil {
			cfg.Enabled, cfg.Selector = s.Enabled, s.Selector
		}
		if cfg.PrivateNodes && fs.Has(FaultPrivateNodesSynced) {
			cfg.PrivateNodes, cfg.Enabled, cfg.Selector = false, true, nil // every host class
		}
		s, err := vcluster.NewRuntimeClassSyncer(host, t.client, cfg)
		if err != nil {
			return nil, fmt.Errorf("%s tenant: %w", t.name, err)
		}
		out = append(out, s)
	}
	return out, nil
}
