package suites

import (
	"time"

	"github.com/cctest/cctest/api/teename"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/framework"
)

// The tenant config has one pool per operator (In and DoesNotExist are the
// TDX, SNP and general pools); a pod reaches a pool through the pool's
// nodeLabels, so each spec shows what one operator selects.
var (
	specOpExists = framework.Declare(framework.Spec{
		Name:      "a pool selecting on Exists gets the cheapest node type that has the property, labelled with it",
		Checklist: framework.ChecklistAutoNodes,
		BrokenBy:  []string{"properties-not-labelled", "autonodes-wrong-type"},
		FailsWithUnder: map[string]string{
			"properties-not-labelled": `gave node type "cpu-small" without the cctest.dev/cores label`,
			"autonodes-wrong-type":    `cpu-small is the cheapest type with the property`,
		},
		MayAlsoFailUnder: []string{"labels-copied-from-other-type"},
	})
	specOpNotIn = framework.Declare(framework.Spec{
		Name:      "a pool selecting on NotIn never gets the excluded value, and node types without the property still match",
		Checklist: framework.ChecklistAutoNodes,
		BrokenBy:  []string{"autonodes-wrong-type", "autonodes-ignores-operator"},
		FailsWithUnder: map[string]string{
			"autonodes-wrong-type":       `cpu-small lacks the property, so NotIn matches it, and it is the cheapest`,
			"autonodes-ignores-operator": `\(confidential-compute NotIn \[tdx\]\) gave a TDX node`,
		},
		MayAlsoFailUnder: []string{"labels-copied-from-other-type"},
	})
	specOpGtLt = framework.Declare(framework.Spec{
		Name:      "a pool selecting on Gt and Lt gets the node type whose numeric property lies between the bounds",
		Checklist: framework.ChecklistAutoNodes,
		BrokenBy:  []string{"properties-not-labelled", "autonodes-ignores-operator"},
		FailsWithUnder: map[string]string{
			"properties-not-labelled":    `node type cpu-medium's property cctest.dev/cores=8 is not on the node`,
			"autonodes-ignores-operator": `to-mid-size will not run: FailedScheduling: Failed to schedule pod`,
		},
		MayAlsoFailUnder: []string{"labels-copied-from-other-type"},
	})
)

var _ = describe(func(s *suite) {
	Describe("Auto-node operators", framework.Label("auto-nodes", "node-types"), func() {
		var ns string
		BeforeEach(func(ctx SpecContext) { ns = s.CreateNamespace(ctx, s.c.Tenant, "operators") })
		JustAfterEach(func(ctx SpecContext) { framework.Diagnose(ctx, s.c, ns) })

		// poolNode runs a pod that only the named pool can serve and returns its node's labels.
		poolNode := func(ctx SpecContext, pool string) map[string]string {
			GinkgoHelper()
			s.createPod(ctx, ns, podSpec{name: "to-" + pool, selector: map[string]string{"cctest.dev/pool": pool}})
			pod := s.waitRunning(ctx, ns, "to-"+pool, 30*time.Second)
			return s.node(ctx, pod.Spec.NodeName).Labels
		}

		specOpExists.It(func(ctx SpecContext) {
			// sized-workers: cctest.dev/cores Exists (cpu-small 4, cpu-medium 8).
			l := poolNode(ctx, "sized")
			Expect(l).To(HaveKey("cctest.dev/cores"), "pool sized-workers (cctest.dev/cores Exists) gave node type %q without the cctest.dev/cores label", l[mgmt.PropertyNodeType])
			Expect(l[mgmt.PropertyNodeType]).To(Equal("cpu-small"), "pool sized-workers (cctest.dev/cores Exists): cpu-small is the cheapest type with the property")
		})

		specOpNotIn.It(func(ctx SpecContext) {
			// non-tdx-workers: confidential-compute NotIn [tdx]; cpu-small has
			// no such property and is the cheapest match.
			l := poolNode(ctx, "non-tdx")
			Expect(l[mgmt.PropertyConfidentialCompute]).NotTo(Equal(teename.TDX),
				"pool non-tdx-workers (confidential-compute NotIn [tdx]) gave a TDX node (type %q)", l[mgmt.PropertyNodeType])
			Expect(l[mgmt.PropertyNodeType]).To(Equal("cpu-small"),
				"pool non-tdx-workers (confidential-compute NotIn [tdx]): cpu-small lacks the property, so NotIn matches it, and it is the cheapest")
		})

		specOpGtLt.It(func(ctx SpecContext) {
			// mid-size-workers: cctest.dev/cores Gt 4 and Lt 16: only cpu-medium (8).
			l := poolNode(ctx, "mid-size")
			Expect(l[mgmt.PropertyNodeType]).To(Equal("cpu-medium"), "pool mid-size-workers (cctest.dev/cores Gt 4, Lt 16): only cpu-medium (8 cores) lies between the bounds")
			Expect(l["cctest.dev/cores"]).To(Equal("8"), "node type cpu-medium's property cctest.dev/cores=8 is not on the node")
		})
	})
})
