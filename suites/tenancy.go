package suites

import (
	"fmt"
	"strings"
	"time"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/api/teename"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cctest/cctest/framework"
)

var specOneNodePerMachine = framework.Declare(framework.Spec{
	Name:             "no machine backs more than one node",
	Checklist:        framework.ChecklistRegister,
	BrokenBy:         []string{"node-shared-across-tenants"},
	FailsWith:        `one machine \(\S+ [0-9a-f]+\) backs both node \S+ and node \S+`,
	MayAlsoFailUnder: tdxNodeFaults,
	Needs:            []framework.Need{framework.NeedPolicy},
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
			// The machine behind a node is decided from hardware identity in
			// its gate evidence, not from anything the platform labels.
			seen := map[string]string{}
			var undecided []string
			for _, n := range s.gatedNodes(ctx) {
				id := machineIdentity(n.verdict)
				if id == "" {
					undecided = append(undecided, n.name)
					continue
				}
				Expect(seen).NotTo(HaveKey(id), "one machine (%s) backs both node %s and node %s: a private node must belong to exactly one tenant node", id, seen[id], n.name)
				seen[id] = n.name
			}
			if len(undecided) > 0 {
				Skip(fmt.Sprintf("cannot decide which machine backs nodes %s: their gate evidence carries no hardware identity", strings.Join(undecided, ", ")))
			}
			Expect(seen).NotTo(BeEmpty(), "no confidential node in the tenant to check")
		})
	})
})
