package suites

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cctest/cctest/api/teename"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/attest/client"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/framework"
	"github.com/cctest/cctest/probe"
	"github.com/cctest/cctest/reports"
)

var specReattest = framework.Declare(framework.Spec{
	Name:      "every confidential node is re-attested by a probe with the spec's own nonce",
	Checklist: framework.ChecklistValidateInside,
	BrokenBy:  framework.Faults(tdxNodeFaults, tdxGuestFaults, snpGuestFaults, kataFaults, []string{"gate-admits-unattested", "attestation-service-accepts-all"}),
	Needs:     []framework.Need{framework.NeedPolicy},
})

// kataClass is the Kata runtime of each TEE: on the pod-level path only the
// Kata guest sees the TEE device.
var kataClass = map[string]string{teename.TDX: "kata-qemu-tdx", teename.SNP: "kata-qemu-snp"}

var _ = describe(func(s *suite) {
	Describe("Attestation of running nodes", framework.Label("attestation", "tee:tdx", "tee:snp"), func() {
		var ns string
		BeforeEach(func(ctx SpecContext) { ns = s.CreateNamespace(ctx, s.c.Tenant, "reattest") })
		JustAfterEach(func(ctx SpecContext) { framework.Diagnose(ctx, s.c, ns) })

		specReattest.It(func(ctx SpecContext) {
			pol := s.Policy
			Expect(pol).NotTo(BeNil(), "no attestation policy for this run: give cctest run --policy")
			// Make sure each TEE has a node, then probe every confidential node.
			for _, tee := range s.TEEs {
				s.createPod(ctx, ns, podSpec{name: "demand-" + tee, selector: map[string]string{mgmt.PropertyConfidentialCompute: tee}})
				s.waitRunning(ctx, ns, "demand-"+tee, 30*time.Second)
			}
			svc := s.attestationService(ctx)
			defer svc.Close()
			nodes, err := s.c.Tenant.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			Expect(err).NotTo(HaveOccurred())
			var bad []string
			probed := 0
			for _, n := range nodes.Items {
				tee := n.Labels[mgmt.PropertyConfidentialCompute]
				class, ok := kataClass[tee]
				if !ok || !slices.Contains(s.TEEs, tee) || n.Spec.Unschedulable {
					continue
				}
				probed++
				// A fresh nonce the spec asks for itself: evidence minted
				// earlier cannot match it, and the spec checks the binding.
				ch, err := svc.Challenge(ctx, "")
				Expect(err).NotTo(HaveOccurred(), "attestation service challenge")
				nonce, err := ch.NonceBytes()
				Expect(err).NotTo(HaveOccurred(), "attestation service challenge")
				name := "attest-" + n.Name
				pod, r := s.runProbe(ctx, ns, s.probePod(name, class, map[string]string{"kubernetes.io/hostname": n.Name}, nil,
					"attest", "--discover", "--nonce", hex.EncodeToString(nonce)))
				ev, err := r.FetchEvidence(ctx, svc)
				if err != nil {
					bad = append(bad, fmt.Sprintf("node %s: no evidence from the probe (%s): %v", n.Name, r.Reason, err))
					continue
				}
				rd := verifier.BindReportData(nonce, probe.ContextFor(string(pod.UID)))
				v := s.Verifier.Verify(ev, pol, rd[:])
				switch {
				case !v.Pass:
					bad = append(bad, fmt.Sprintf("node %s (%s): evidence fails the spec's own verification: %s", n.Name, tee, v.Reason))
				case v.TEE != tee:
					bad = append(bad, fmt.Sprintf("node %s advertises %s but its evidence is %s", n.Name, tee, v.TEE))
				case r.Verdict == nil || r.Verdict.Checks == 0:
					bad = append(bad, fmt.Sprintf("node %s: the attestation service passed the evidence without running any check", n.Name))
				case !r.Pass:
					bad = append(bad, fmt.Sprintf("node %s: the attestation service rejected evidence the spec verified: %s", n.Name, r.Reason))
				}
				AddReportEntry(reports.EvidenceEntry, reports.Evidence{Subject: n.Name, Kind: "node", NodeType: n.Labels[mgmt.PropertyNodeType],
					TEE: tee, Nonce: hex.EncodeToString(nonce), Raw: ev.Raw, Verdict: v})
			}
			Expect(probed).To(BeNumerically(">", 0), "no confidential node to re-attest")
			Expect(bad).To(BeEmpty(), strings.Join(bad, "; "))
		})
	})
})

// attestationService connects to the tenant's attestation service.
func (s *suite) attestationService(ctx context.Context) *client.Client {
	GinkgoHelper()
	return s.attestationServiceOf(ctx, s.c.Tenant)
}
