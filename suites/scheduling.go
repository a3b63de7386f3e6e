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
		BrokenBy:  framework.Faults(tdxNodeFaults, snpNodeFaults, []string{"autonodes-ignores-operator"}),
	})
	specCapacity = framework.Declare(framework.Spec{
		Name:      "when every machine of a node type is in use, a pending pod gets a reason naming the exhausted capacity",
		Labels:    []string{"auto-nodes", "tee:snp", "host-access"},
		Checklist: framework.ChecklistAutoNodes,
		BrokenBy:  framework.Faults(snpNodeFaults, []string{"node-shared-across-tenants"}),
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
			for name, tee := range want {
				pod := s.waitRunning(ctx, ns, name, 30*time.Second)
				got, has := s.node(ctx, pod.Spec.NodeName).Labels[mgmt.PropertyConfidentialCompute]
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
			if s.c.HostDyn == nil {
				Skip("needs --host-kubeconfig: capacity is the NodeType's status in the host")
			}
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
			// Every machine gets one pod; the pod left over gets a reason.
			var reason string
			Eventually(ctx, func(ctx context.Context) error {
				running := 0
				reason = ""
				for i := 0; i < n; i++ {
					name := fmt.Sprintf("snp-%d", i)
					if p, err := s.c.Tenant.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{}); err == nil && p.Status.Phase == corev1.PodRunning {
						running++
					} else if evs := s.events(ctx, ns, name, "NoMatchingNodeType"); len(evs) > 0 {
						reason = evs[0].Message
					}
				}
				if running != n-1 || reason == "" {
					return fmt.Errorf("with %d snp-large machines and %d pods that may not share a node: %d running, reason %q (want %d running and a capacity reason for the last)",
						n-1, n, running, reason, n-1)
				}
				return nil
			}).WithTimeout(s.Timeout(60*time.Second)).WithPolling(200*time.Millisecond).Should(Succeed(), "snp-large capacity")
			Expect(reason).To(And(ContainSubstring("snp-large"), ContainSubstring("capacity")), "the reason does not say snp-large is out of capacity")
		})
	})
})
