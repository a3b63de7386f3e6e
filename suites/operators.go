package suites

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/framework"
)

// The tenant config has one pool per operator (In and DoesNotExist are the
// TDX, SNP and general pools); a pod reaches a pool through the pool's
// nodeLabels, so each spec shows what one operator selects.
var (
	specOpExists = spec("a pool selecting on Exists gets the cheapest node type that has the property, labelled with it")
	specOpNotIn  = spec("a pool selecting on NotIn never gets the excluded value, and node types without the property still match")
	specOpGtLt   = spec("a pool selecting on Gt and Lt gets the node type whose numeric property lies between the bounds")
)

var _ = Describe("Auto-node operators", framework.Label("auto-nodes", "node-types"), func() {
	var ns string
	BeforeEach(func(ctx SpecContext) { ns = framework.CreateNamespace(ctx, c.Tenant, "operators") })
	JustAfterEach(func(ctx SpecContext) { framework.Diagnose(ctx, c, ns) })

	// poolNode runs a pod that only the named pool can serve and returns its node.
	poolNode := func(ctx SpecContext, pool string) map[string]string {
		GinkgoHelper()
		createPod(ctx, ns, podSpec{name: "to-" + pool, selector: map[string]string{"cctest.dev/pool": pool}})
		pod := waitRunning(ctx, ns, "to-"+pool, 30e9)
		return node(ctx, pod.Spec.NodeName).Labels
	}

	It(specOpExists, func(ctx SpecContext) {
		// sized-workers: cctest.dev/cores Exists (cpu-small 4, cpu-medium 8).
		l := poolNode(ctx, "sized")
		if _, ok := l["cctest.dev/cores"]; !ok {
			Fail(fmt.Sprintf("pool sized-workers (cctest.dev/cores Exists) gave node type %q without the cctest.dev/cores label", l[mgmt.PropertyNodeType]))
		}
		if got := l[mgmt.PropertyNodeType]; got != "cpu-small" {
			Fail(fmt.Sprintf("pool sized-workers (cctest.dev/cores Exists) gave node type %q; cpu-small is the cheapest type with the property", got))
		}
	})

	It(specOpNotIn, func(ctx SpecContext) {
		// non-tdx-workers: confidential-compute NotIn [tdx]; cpu-small has
		// no such property and is the cheapest match.
		l := poolNode(ctx, "non-tdx")
		if l[mgmt.PropertyConfidentialCompute] == mgmt.TechnologyTDX {
			Fail(fmt.Sprintf("pool non-tdx-workers (confidential-compute NotIn [tdx]) gave a TDX node (type %q)", l[mgmt.PropertyNodeType]))
		}
		if got := l[mgmt.PropertyNodeType]; got != "cpu-small" {
			Fail(fmt.Sprintf("pool non-tdx-workers (confidential-compute NotIn [tdx]) gave node type %q; cpu-small lacks the property, so NotIn matches it, and it is the cheapest", got))
		}
	})

	It(specOpGtLt, func(ctx SpecContext) {
		// mid-size-workers: cctest.dev/cores Gt 4 and Lt 16: only cpu-medium (8).
		l := poolNode(ctx, "mid-size")
		if got := l[mgmt.PropertyNodeType]; got != "cpu-medium" {
			Fail(fmt.Sprintf("pool mid-size-workers (cctest.dev/cores Gt 4, Lt 16) gave node type %q; only cpu-medium (8 cores) lies between the bounds", got))
		}
		if got := l["cctest.dev/cores"]; got != "8" {
			Fail(fmt.Sprintf("node type cpu-medium's property cctest.dev/cores=8 is not on the node (label %q)", got))
		}
	})
})
