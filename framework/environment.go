package framework

import (
	"context"
	"slices"
	"sort"

	"github.com/cctest/cctest/api/teename"

	"github.com/onsi/ginkgo/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/cctest/cctest/internal/buildinfo"
	"github.com/cctest/cctest/reports"
)

// RecordEnvironment attaches where the run happened to the report: the
// environment, versions, the TEEs the tenant's nodes advertise, the policy
// and faults. Call it from a BeforeSuite.
func RecordEnvironment(ctx context.Context, r *Run, c *Clients) {
	e := reports.Environment{Kind: r.Env.Name(), CctestVersion: buildinfo.Version, Faults: r.Faults, Waivers: r.Waivers}
	if t := r.Env.Tenant(); t != nil {
		e.Tenant = t.Host
	}
	if h := r.Env.Host(); h != nil {
		e.Host = h.Host
	}
	if c != nil && c.Tenant != nil {
		if v, err := c.Tenant.Discovery().ServerVersion(); err == nil {
			e.KubernetesVersion = v.GitVersion
		}
		if nodes, err := c.Tenant.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil {
			seen := map[string]bool{}
			for _, n := range nodes.Items {
				if tee := n.Labels["confidential-compute"]; tee != "" && !seen[tee] {
					seen[tee] = true
					e.TEETypes = append(e.TEETypes, tee)
				}
			}
		}
	}
	if p := r.Policy; p != nil {
		e.PolicyName = p.Name
		if b, err := yaml.Marshal(p); err == nil {
			e.PolicyYAML = string(b)
		}
		// Auto nodes join on demand, so at suite start the policy's
		// sections say more about the run's TEEs than the nodes do.
		if p.TDX != nil && !slices.Contains(e.TEETypes, teename.TDX) {
			e.TEETypes = append(e.TEETypes, teename.TDX)
		}
		if p.SNP != nil && !slices.Contains(e.TEETypes, teename.SNP) {
			e.TEETypes = append(e.TEETypes, teename.SNP)
		}
	}
	sort.Strings(e.TEETypes)
	ginkgo.AddReportEntry(reports.EnvironmentEntry, e)
}
