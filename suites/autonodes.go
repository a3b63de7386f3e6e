package suites

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cctest/cctest/api/teename"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/framework"
)

var (
	specTDXNode = framework.Declare(framework.Spec{
		Name:             "a TDX workload gets a tdx-large node carrying the node type's properties as labels",
		Labels:           []string{"tee:tdx", "node-types"},
		Checklist:        framework.ChecklistProperties,
		BrokenBy:         []string{"properties-not-labelled"},
		FailsWith:        `tdx-workload will not run: FailedScheduling`,
		MayAlsoFailUnder: framework.Faults(allNodeFaults, kataFaults, blindVerifierFaults, cvmFaults),
	})
	specSNPNode = framework.Declare(framework.Spec{
		Name:             "an SEV-SNP workload gets an snp-large node carrying the node type's properties as labels",
		Labels:           []string{"tee:snp", "node-types"},
		Checklist:        framework.ChecklistProperties,
		BrokenBy:         []string{"properties-not-labelled"},
		FailsWith:        `snp-workload will not run: FailedScheduling`,
		MayAlsoFailUnder: framework.Faults(allNodeFaults, kataFaults, blindVerifierFaults, cvmFaults),
	})
	specCheapest = framework.Declare(framework.Spec{
		Name:      "a plain workload gets the cheapest matching plain node type, never a confidential one",
		Labels:    []string{"node-types"},
		Checklist: framework.ChecklistAutoNodes,
		BrokenBy:  []string{"autonodes-wrong-type", "autonodes-ignores-operator", "labels-copied-from-other-type"},
		FailsWithUnder: map[string]string{
			"autonodes-wrong-type":          `labels wrong: vcluster.com/node-type="cpu-medium" \(want "cpu-small"\)`,
			"autonodes-ignores-operator":    `plain workload landed on confidential node \S+: the pool's DoesNotExist requirement was not honoured`,
			"labels-copied-from-other-type": `node \S+ advertises confidential-compute=\S+ without proof`,
		},
	})
	specNoType = framework.Declare(framework.Spec{
		Name:      "requirements no node type satisfies produce no node and a reason naming the requirement",
		Checklist: framework.ChecklistAutoNodes,
		BrokenBy:  []string{"autonodes-silent"},
		FailsWith: `no FailedScheduling event names the unsatisfied requirement`,
		WaitsFor:  []string{"autonodes-silent"},
	})
)

var _ = describe(func(s *suite) {
	Describe("Auto nodes", framework.Label("auto-nodes"), func() {
		var ns string
		BeforeEach(func(ctx SpecContext) { ns = s.CreateNamespace(ctx, s.c.Tenant, "auto-nodes") })
		JustAfterEach(func(ctx SpecContext) { framework.Diagnose(ctx, s.c, ns) })

		specTDXNode.It(func(ctx SpecContext) {
			s.createPod(ctx, ns, podSpec{name: "tdx-workload", selector: map[string]string{mgmt.PropertyConfidentialCompute: teename.TDX}})
			pod := s.waitRunning(ctx, ns, "tdx-workload", 30*time.Second)
			expectLabels(s.node(ctx, pod.Spec.NodeName), map[string]string{mgmt.PropertyConfidentialCompute: teename.TDX, mgmt.PropertyNodeType: "tdx-large"})
		})

		specSNPNode.It(func(ctx SpecContext) {
			s.createPod(ctx, ns, podSpec{name: "snp-workload", selector: map[string]string{mgmt.PropertyConfidentialCompute: teename.SNP}})
			pod := s.waitRunning(ctx, ns, "snp-workload", 30*time.Second)
			expectLabels(s.node(ctx, pod.Spec.NodeName), map[string]string{mgmt.PropertyConfidentialCompute: teename.SNP, mgmt.PropertyNodeType: "snp-large"})
		})

		specCheapest.It(func(ctx SpecContext) {
			s.createPod(ctx, ns, podSpec{name: "plain", selector: map[string]string{"cctest.dev/pool": "general"}})
			pod := s.waitRunning(ctx, ns, "plain", 30*time.Second)
			n := s.node(ctx, pod.Spec.NodeName)
			if _, ok := n.Labels[mgmt.PropertyConfidentialCompute]; ok {
				// A TEE label the node cannot back is a different bug from
				// a pool requirement ignored: say which.
				Expect(s.unearnedTEE(ctx, n)).To(BeEmpty(), "the plain workload's node")
			}
			Expect(n.Labels).NotTo(HaveKey(mgmt.PropertyConfidentialCompute),
				"plain workload landed on confidential node %s: the pool's DoesNotExist requirement was not honoured", n.Name)
			expectLabels(n, map[string]string{mgmt.PropertyNodeType: "cpu-small"})
		})

		specNoType.It(func(ctx SpecContext) {
			s.createPod(ctx, ns, podSpec{name: "wants-sgx", selector: map[string]string{mgmt.PropertyConfidentialCompute: "sgx"}})
			// The scheduler's FailedScheduling says no node fits; the
			// platform's Karpenter adds its own, naming the requirement no
			// node type meets ("incompatible with nodepool ...").
			var seen []string
			Eventually(ctx, func(ctx context.Context) []string {
				seen = nil
				for _, e := range s.events(ctx, ns, "wants-sgx", "FailedScheduling") {
					seen = append(seen, e.Source.Component+": "+e.Message)
				}
				return seen
			}).WithTimeout(s.Timeout(30*time.Second)).WithPolling(podPoll).Should(ContainElement(ContainSubstring(mgmt.PropertyConfidentialCompute)),
				"no FailedScheduling event names the unsatisfied requirement %s", mgmt.PropertyConfidentialCompute)
			pod, err := s.c.Tenant.CoreV1().Pods(ns).Get(ctx, "wants-sgx", metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(pod).To(StayPending(), fmt.Sprintf("an unsatisfiable pod must stay Pending and unscheduled (%s)", strings.TrimSpace(pod.Status.Message)))
			nodes, err := s.c.Tenant.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: mgmt.PropertyConfidentialCompute + "=sgx"})
			Expect(err).NotTo(HaveOccurred())
			Expect(nodes.Items).To(BeEmpty(), "a node advertising %s=sgx appeared, though no node type offers it", mgmt.PropertyConfidentialCompute)
		})
	})
})
