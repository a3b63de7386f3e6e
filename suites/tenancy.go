package suites

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cctest/cctest/framework"
)

// LabelMachine names the physical machine behind a node (set by the platform).
const LabelMachine = "cctest.dev/machine"

var specOneNodePerMachine = spec("no machine backs more than one node")

var _ = Describe("Tenancy", framework.Label("tenancy", "tee:tdx"), func() {
	var ns string
	BeforeEach(func(ctx SpecContext) { ns = framework.CreateNamespace(ctx, c.Tenant, "tenancy") })
	JustAfterEach(func(ctx SpecContext) { framework.Diagnose(ctx, c, ns) })

	It(specOneNodePerMachine, func(ctx SpecContext) {
		// Two pods that may not share a node make the platform place two machines.
		for i := 0; i < 2; i++ {
			createPod(ctx, ns, podSpec{name: fmt.Sprintf("spread-%d", i), antiAffinity: "spread", selector: map[string]string{"confidential-compute": "tdx"}})
		}
		for i := 0; i < 2; i++ {
			waitRunning(ctx, ns, fmt.Sprintf("spread-%d", i), 45e9)
		}
		nodes, err := c.Tenant.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			Fail(err.Error())
		}
		seen := map[string]string{}
		for _, n := range nodes.Items {
			m := n.Labels[LabelMachine]
			if m == "" {
				continue
			}
			if other, dup := seen[m]; dup {
				Fail(fmt.Sprintf("machine %s backs both node %s and node %s: a private node must belong to exactly one tenant node", m, other, n.Name))
			}
			seen[m] = n.Name
		}
	})
})
