package suites

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	corev1 "k8s.io/api/core/v1"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/framework"
)

var (
	specTDXNode  = spec("a TDX workload gets a tdx-large node carrying the node type's properties as labels")
	specSNPNode  = spec("an SEV-SNP workload gets an snp-large node carrying the node type's properties as labels")
	specCheapest = spec("a plain workload gets the cheapest matching plain node type, never a confidential one")
	specNoType   = spec("requirements no node type satisfies produce no node and a reason naming the requirement")
)

var _ = Describe("Auto nodes", framework.Label("auto-nodes"), func() {
	var ns string
	BeforeEach(func(ctx SpecContext) { ns = framework.CreateNamespace(ctx, c.Tenant, "auto-nodes") })
	JustAfterEach(func(ctx SpecContext) { framework.Diagnose(ctx, c, ns) })

	It(specTDXNode, framework.Label("tee:tdx", "node-types"), func(ctx SpecContext) {
		createPod(ctx, ns, podSpec{name: "tdx-workload", selector: map[string]string{"confidential-compute": "tdx"}})
		pod := waitRunning(ctx, ns, "tdx-workload", 30e9)
		expectLabels(node(ctx, pod.Spec.NodeName), map[string]string{"confidential-compute": "tdx", mgmt.PropertyNodeType: "tdx-large"})
	})

	It(specSNPNode, framework.Label("tee:snp", "node-types"), func(ctx SpecContext) {
		createPod(ctx, ns, podSpec{name: "snp-workload", selector: map[string]string{"confidential-compute": "sev-snp"}})
		pod := waitRunning(ctx, ns, "snp-workload", 30e9)
		expectLabels(node(ctx, pod.Spec.NodeName), map[string]string{"confidential-compute": "sev-snp", mgmt.PropertyNodeType: "snp-large"})
	})

	It(specCheapest, framework.Label("node-types"), func(ctx SpecContext) {
		createPod(ctx, ns, podSpec{name: "plain", selector: map[string]string{"cctest.dev/pool": "general"}})
		pod := waitRunning(ctx, ns, "plain", 30e9)
		n := node(ctx, pod.Spec.NodeName)
		if tee, ok := n.Labels["confidential-compute"]; ok {
			Fail(fmt.Sprintf("plain workload landed on confidential node %s (confidential-compute=%s): the pool's DoesNotExist requirement was not honoured", n.Name, tee))
		}
		expectLabels(n, map[string]string{mgmt.PropertyNodeType: "cpu-small"})
	})

	It(specNoType, func(ctx SpecContext) {
		createPod(ctx, ns, podSpec{name: "wants-sgx", selector: map[string]string{"confidential-compute": "sgx"}})
		msg := waitEvent(ctx, ns, "wants-sgx", "NoMatchingNodeType", 30e9)
		if !strings.Contains(msg, "confidential-compute") {
			Fail("the reason does not name the unsatisfied requirement: " + msg)
		}
		pod, err := c.Tenant.CoreV1().Pods(ns).Get(ctx, "wants-sgx", getOpts)
		if err != nil || pod.Spec.NodeName != "" || pod.Status.Phase != corev1.PodPending {
			Fail(fmt.Sprintf("an unsatisfiable pod must stay Pending and unscheduled; got node %q phase %s (err %v)", pod.Spec.NodeName, pod.Status.Phase, err))
		}
	})
})
