package suites

import (
	"fmt"
	"time"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/api/teename"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cctest/cctest/framework"
)

// LabelMachine names the physical machine behind a node (set by the platform).
const LabelMachine = "cctest.dev/machine"

var specOneNodePerMachine = framework.Declare(framework.Spec{
	Name:      "no machine backs more than one node",
	Checklist: framework.ChecklistRegister,
	BrokenBy:  framework.Faults(tdxNodeFaults, []string{"node-shared-across-tenants"}),
})

var _ = describe(func(s *suite) {
	Describe("Tenancy", framework.Label("tenancy", "tee:tdx"), func() {
		var ns string
		BeforeEach(func(ctx SpecContext) { ns = s.CreateNamespace(ctx, s.c.Tenant, "tenancy") })
		JustAfterEach(func(ctx SpecContext) { framework.Diagnose(ctx, s.c, ns) })

		specOneNodePerMachine.It(func(ctx SpecContext) {
			// Two pods that may not share a node make the platform place two machines.
			for i := 0; i < 2; i++ {
				s.createPod(ctx, ns, podSpec{name: fmt.Sprintf("spread-%d", i), antiAffinity: "spread", selector: map[string]string{mgmt.PropertyConfidentialCompute: teename.TDX}})
			}
			for i := 0; i < 2; i++ {
				s.waitRunning(ctx, ns, fmt.Sprintf("spread-%d", i), 45*time.Second)
			}
			nodes, err := s.c.Tenant.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			Expect(err).NotTo(HaveOccurred())
			seen := map[string]string{}
			for _, n := range nodes.Items {
				m := n.Labels[LabelMachine]
				if m == "" {
					continue
				}
				Expect(seen).NotTo(HaveKey(m), "machine %s backs both node %s and node %s: a private node must belong to exactly one tenant node", m, seen[m], n.Name)
				seen[m] = n.Name
			}
		})
	})
})
