package suites

import (
	"time"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/api/teename"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cctest/cctest/config"
	"github.com/cctest/cctest/fixtures"
	"github.com/cctest/cctest/framework"
)

var (
	specEgressAllowed = framework.Declare(framework.Spec{
		Name:             "with the reference NetworkPolicies a confidential pod reaches the attestation service and nothing else",
		Checklist:        framework.ChecklistPodRuntime,
		BrokenBy:         framework.Faults(tdxNodeFaults, tdxGuestFaults, kataFaults),
		MayAlsoFailUnder: []string{"gate-admits-unattested"},
	})
	specEgressDenied = framework.Declare(framework.Spec{
		Name:      "under default-deny egress a Kata pod's attestation fails saying egress was denied",
		Checklist: framework.ChecklistPodRuntime,
		BrokenBy:  framework.Faults(tdxNodeFaults, []string{"pod-attestation-skipped", "kata-handler-missing"}),
		// A runtime that reuses a verdict never asks the service again, so
		// under default-deny egress its pod starts instead of failing.
		// A host the faulty join let in (TDX off) starts no guest at all.
		MayAlsoFailUnder: []string{"pod-verdict-reused", "gate-admits-unattested"},
	})
)

// applyPolicies creates NetworkPolicies from a fixture in a namespace.
func (s *suite) applyPolicies(ctx SpecContext, ns, fixture string) {
	GinkgoHelper()
	b, err := fixtures.Read(fixture)
	Expect(err).NotTo(HaveOccurred())
	objs, err := config.LoadObjects(fixture, b)
	Expect(err).NotTo(HaveOccurred())
	for _, o := range objs {
		np, ok := o.Obj.(*networkingv1.NetworkPolicy)
		if !ok {
			continue
		}
		np.Namespace = ns
		_, err := s.c.Tenant.NetworkingV1().NetworkPolicies(ns).Create(ctx, np, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred(), "NetworkPolicy %s", np.Name)
	}
}

var _ = describe(func(s *suite) {
	Describe("Egress from confidential nodes", framework.Label("egress", "tee:tdx"), func() {
		var ns string
		BeforeEach(func(ctx SpecContext) { ns = s.CreateNamespace(ctx, s.c.Tenant, "egress") })
		JustAfterEach(func(ctx SpecContext) { framework.Diagnose(ctx, s.c, ns) })

		specEgressAllowed.It(func(ctx SpecContext) {
			s.applyPolicies(ctx, ns, "reference/network-policies.yaml")
			app := map[string]string{"app": "confidential-workload"}
			tdx := map[string]string{mgmt.PropertyConfidentialCompute: teename.TDX}
			_, r := s.runProbe(ctx, ns, s.probePod("to-attestation", "kata-qemu-tdx", tdx, app, "egress", "--target", "attestation.cctest-system.svc:8443"))
			Expect(r.Pass).To(BeTrue(), "the attestation service is not reachable under the reference policies: %s", r.Reason)
			_, r = s.runProbe(ctx, ns, s.probePod("to-elsewhere", "kata-qemu-tdx", tdx, app, "egress", "--target", "203.0.113.7:443", "--expect", "blocked"))
			Expect(r.Pass).To(BeTrue(), "traffic to other destinations is not blocked: %s", r.Reason)
		})

		specEgressDenied.It(func(ctx SpecContext) {
			s.applyPolicies(ctx, ns, "reference/network-policies.yaml")
			// The workload does not carry the label the allow rule selects, so
			// only default-deny applies to it.
			s.createPod(ctx, ns, podSpec{name: "unlabelled", runtimeClass: "kata-qemu-tdx", selector: map[string]string{mgmt.PropertyConfidentialCompute: teename.TDX}})
			msg := s.waitEvent(ctx, ns, "unlabelled", "AttestationFailed", 45*time.Second)
			Expect(msg).To(HavePrefix("egress to the attestation service was denied"), "the attestation failure does not say egress was denied")
		})
	})
})
