package suites

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cctest/cctest/api/teename"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/framework"
)

var (
	specOnlyConfidential = framework.Declare(framework.Spec{
		Name:      "confidential pods land only on nodes advertising the property, plain pods never on TEE nodes",
		Labels:    []string{"tee:tdx", "tee:snp"},
		Checklist: framework.ChecklistValidateInside,
		BrokenBy:  []string{"autonodes-ignores-operator", "labels-copied-from-other-type"},
		FailsWithUnder: map[string]string{
			"autonodes-ignores-operator":    `plain pod \S+ runs on TEE node \S+`,
			"labels-copied-from-other-type": `node \S+ advertises confidential-compute=\S+ without proof: it lacks that TEE's host support labels`,
		},
		// A host the faulty gate let in may take a pod: it advertises a TEE
		// without its host support.
		MayAlsoFailUnder: framework.Faults(allNodeFaults, []string{"gate-admits-unattested"}),
	})
	specCapacity = framework.Declare(framework.Spec{
		Name:      "when every machine of a node type is in use, the pod left over stays pending and the node type shows no free capacity",
		Labels:    []string{"auto-nodes", "tee:snp", "host-access"},
		Checklist: framework.ChecklistAutoNodes,
		// A shared machine shows as more pods running than machines, or as
		// a capacity status that never fills (a bounded wait).
		BrokenBy:         []string{"node-shared-across-tenants"},
		FailsWith:        `(some machine backs more than one node|status.capacity does not show its machines as all claimed)`,
		WaitsFor:         []string{"node-shared-across-tenants"},
		MayAlsoFailUnder: framework.Faults(allNodeFaults, kataFaults, blindVerifierFaults, cvmFaults),
		Needs:            []framework.Need{framework.NeedHostAccess},
	})
)

var _ = describe(func(s *suite) {
	Describe("Scheduling", framework.Label("scheduling"), func() {
		var ns string
		BeforeEach(func(ctx SpecContext) { ns = s.CreateNamespace(ctx, s.c.Tenant, "scheduling") })
		JustAfterEach(func(ctx SpecContext) { framework.Diagnose(ctx, s.c, ns) })

		specOnlyConfidential.It(func(ctx SpecContext) {
			want := map[string]string{}
			// Two pods per TEE of the run, interleaved.
			tees := append(append([]string{}, s.TEEs...), s.TEEs...)
			for i, tee := range tees {
				name := fmt.Sprintf("%s-%d", tee, i)
				s.createPod(ctx, ns, podSpec{name: name, selector: map[string]string{mgmt.PropertyConfidentialCompute: tee}})
				want[name] = tee
			}
			s.createPod(ctx, ns, podSpec{name: "plain", selector: map[string]string{"cctest.dev/pool": "general"}})
			want["plain"] = ""
			var bad []string
			checked := map[string]bool{}
			for name, tee := range want {
				pod := s.waitRunning(ctx, ns, name, 30*time.Second)
				n := s.node(ctx, pod.Spec.NodeName)
				got, has := n.Labels[mgmt.PropertyConfidentialCompute]
				// The label is only a claim: a node advertising a TEE must
				// show the proof its path gives.
				if has && !checked[n.Name] {
					checked[n.Name] = true
					if why := s.unearnedTEE(ctx, n); why != "" {
						bad = append(bad, why)
					}
				}
				switch {
				case tee == "" && has:
					bad = append(bad, fmt.Sprintf("plain pod %s runs on TEE node %s (%s)", name, pod.Spec.NodeName, got))
				case tee != "" && got != tee:
					bad = append(bad, fmt.Sprintf("pod %s asked for %s but runs on node %s advertising %q", name, tee, pod.Spec.NodeName, got))
				}
			}
			Expect(bad).To(BeEmpty(), strings.Join(bad, "; "))
		})

		specCapacity.It(func(ctx SpecContext) {
			u, err := s.c.HostDyn.Resource(mgmt.NodeTypeResource).Get(ctx, "snp-large", metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred(), "NodeType snp-large")
			nt, err := mgmt.NodeTypeFrom(u)
			Expect(err).NotTo(HaveOccurred(), "NodeType snp-large")
			Expect(nt.Status.Capacity.Total).To(BeNumerically(">", 0), "NodeType snp-large has no usable machines (status.capacity.total)")
			// One pod per usable machine, plus one: pods that may not share a node.
			n := nt.Status.Capacity.Total + 1
			for i := 0; i < n; i++ {
				s.createPod(ctx, ns, podSpec{name: fmt.Sprintf("snp-%d", i), antiAffinity: "fill-snp", selector: map[string]string{mgmt.PropertyConfidentialCompute: teename.SNP}})
			}
			// Every machine gets one pod; the pod left over stays pending, and
			// the node type's status says why: every machine is claimed.
			var pending []string
			Eventually(ctx, func(ctx context.Context) error {
				running := 0
				pending = nil
				for i := 0; i < n; i++ {
					name := fmt.Sprintf("snp-%d", i)
					if p, err := s.c.Tenant.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{}); err == nil && p.Status.Phase == corev1.PodRunning {
						running++
					} else {
						pending = append(pending, name)
					}
				}
				if running > n-1 {
					return StopTrying(fmt.Sprintf("all %d pods that may not share a node run, but snp-large has %d machines: some machine backs more than one node", running, n-1))
				}
				if running != n-1 {
					return fmt.Errorf("with %d snp-large machines and %d pods that may not share a node: %d running (want %d)", n-1, n, running, n-1)
				}
				return nil
			}).WithTimeout(s.Timeout(60*time.Second)).WithPolling(200*time.Millisecond).Should(Succeed(), "every snp-large machine takes one pod, and no more")
			Expect(pending).To(HaveLen(1))
			left, err := s.c.Tenant.CoreV1().Pods(ns).Get(ctx, pending[0], metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			// The wait above may end in the instant before a shared machine
			// runs the last pod: the same proof, then, in the same words.
			Expect(left).To(StayPending(), "pod %s, one more than snp-large's %d machines, must wait for capacity; if it runs, some machine backs more than one node", left.Name, n-1)
			Eventually(ctx, func(ctx context.Context) (mgmt.NodeTypeCapacity, error) {
				u, err := s.c.HostDyn.Resource(mgmt.NodeTypeResource).Get(ctx, "snp-large", metav1.GetOptions{})
				if err != nil {
					return mgmt.NodeTypeCapacity{}, err
				}
				nt, err := mgmt.NodeTypeFrom(u)
				if err != nil {
					return mgmt.NodeTypeCapacity{}, err
				}
				return nt.Status.Capacity, nil
			}).WithTimeout(s.Timeout(10*time.Second)).Should(HaveField("Free()", 0), "NodeType snp-large's status.capacity does not show its machines as all claimed")
		})
	})
})
