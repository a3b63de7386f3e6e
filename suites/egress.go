package suites

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cctest/cctest/config"
	"github.com/cctest/cctest/fixtures"
	"github.com/cctest/cctest/framework"
)

var (
	specEgressAllowed = spec("with the reference NetworkPolicies a confidential pod reaches the attestation service and nothing else")
	specEgressDenied  = spec("under default-deny egress a Kata pod's attestation fails saying egress was denied")
)

// applyPolicies creates NetworkPolicies from a fixture in a namespace.
func applyPolicies(ctx SpecContext, ns, fixture string) {
	GinkgoHelper()
	b, err := fixtures.Read(fixture)
	if err != nil {
		Fail(err.Error())
	}
	objs, err := config.LoadObjects(fixture, b)
	if err != nil {
		Fail(err.Error())
	}
	for _, o := range objs {
		np, ok := o.Obj.(*networkingv1.NetworkPolicy)
		if !ok {
			continue
		}
		np.Namespace = ns
		if _, err := c.Tenant.NetworkingV1().NetworkPolicies(ns).Create(ctx, np, metav1.CreateOptions{}); err != nil {
			Fail(fmt.Sprintf("NetworkPolicy %s: %v", np.Name, err))
		}
	}
}

var _ = Describe("Egress from confidential nodes", framework.Label("egress", "tee:tdx"), func() {
	var ns string
	BeforeEach(func(ctx SpecContext) { ns = framework.CreateNamespace(ctx, c.Tenant, "egress") })
	JustAfterEach(func(ctx SpecContext) { framework.Diagnose(ctx, c, ns) })

	It(specEgressAllowed, func(ctx SpecContext) {
		applyPolicies(ctx, ns, "reference/network-policies.yaml")
		app := map[string]string{"app": "confidential-workload"}
		tdx := map[string]string{"confidential-compute": "tdx"}
		_, r := runProbe(ctx, ns, probePod("to-attestation", "kata-qemu-tdx", tdx, app, "egress", "--target", "attestation.cctest-system.svc:8443"))
		if !r.Pass {
			Fail("the attestation service is not reachable under the reference policies: " + r.Reason)
		}
		_, r = runProbe(ctx, ns, probePod("to-elsewhere", "kata-qemu-tdx", tdx, app, "egress", "--target", "203.0.113.7:443", "--expect", "blocked"))
		if !r.Pass {
			Fail("traffic to other destinations is not blocked: " + r.Reason)
		}
	})

	It(specEgressDenied, func(ctx SpecContext) {
		applyPolicies(ctx, ns, "reference/network-policies.yaml")
		// The workload does not carry the label the allow rule selects, so
		// only default-deny applies to it.
		createPod(ctx, ns, podSpec{name: "unlabelled", runtimeClass: "kata-qemu-tdx", selector: map[string]string{"confidential-compute": "tdx"}})
		msg := waitEvent(ctx, ns, "unlabelled", "AttestationFailed", 45e9)
		if !strings.HasPrefix(msg, "egress to the attestation service was denied") {
			Fail("the attestation failure does not say egress was denied: " + msg)
		}
	})
})
