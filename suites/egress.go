package suites

import (
	"time"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/api/teename"
	"github.com/cctest/cctest/attest/kbs"

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
		Name:      "with the reference NetworkPolicies a confidential pod reaches the attestation service and nothing else",
		Checklist: framework.ChecklistPodRuntime,
		BrokenBy:  []string{"egress-denied", "netpol-not-enforced"},
		FailsWithUnder: map[string]string{
			"egress-denied":       `the attestation service is not reachable under the reference policies`,
			"netpol-not-enforced": `traffic to other destinations is not blocked`,
		},
		MayAlsoFailUnder: framework.Faults(tdxNodeFaults, kataFaults),
	})
	specEgressDenied = framework.Declare(framework.Spec{
		Name:      "under default-deny egress a Kata guest cannot reach the KBS, and a container that needs its secret is never created",
		Checklist: framework.ChecklistPodRuntime,
		BrokenBy:  []string{"netpol-not-enforced", "pod-attestation-skipped", "kata-starts-on-failure", "kata-attests-after-start"},
		// A network that does not enforce the policies lets the guest
		// attest; a runtime that skips the guest's unsealing, ignores its
		// failure, or unseals only after the container started, or hands
		// it a secret another guest got, starts the container anyway.
		FailsWith:        `no Failed event for \S+: its containers ran instead`,
		MayAlsoFailUnder: framework.Faults(tdxNodeFaults, kataFaults),
		Needs:            []framework.Need{framework.NeedPolicy, framework.NeedKBSAdmin},
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
	Describe("Egress from confidential nodes", framework.Label("egress", "tee:tdx", "path:pod"), func() {
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
			// only default-deny applies to it: its guest cannot reach the KBS.
			secret := s.putSecret(ctx, ns, "unlabelled")
			pod := s.probePod("unlabelled", "kata-qemu-tdx", map[string]string{mgmt.PropertyConfidentialCompute: teename.TDX}, nil,
				"guest", "--resource", secret.path, "--env", secretEnv)
			s.withSealedSecret(ctx, pod, secret)
			_, err := s.c.Tenant.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred(), "create pod %s/unlabelled", ns)
			// The kubelet's event for a container it could not create.
			msg := s.waitEvent(ctx, ns, "unlabelled", "Failed", 45*time.Second)
			Expect(msg).To(ContainSubstring(kbs.ResourceURI(secret.repo, secret.typ, secret.tag)), "the container's creation failed, but not for the secret: %s", msg)
			s.expectContainerNotCreated(ctx, ns, "unlabelled")
		})
	})
})
