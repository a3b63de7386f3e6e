package suites

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/cctest/cctest/api/teename"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/framework"
	"github.com/cctest/cctest/reports"
)

// A Kata pod starts only on a verdict bound to it.
var kataPodFaults = framework.Faults(kataFaults, []string{"pod-attestation-skipped", "pod-verdict-reused"})

var (
	specGateRefuses = framework.Declare(framework.Spec{
		Name:      "every confidential node joined after a passing attestation, and refused machines never joined",
		Labels:    []string{"host-access", "tee:tdx"},
		Checklist: framework.ChecklistCloudCVM,
		// Cloud CVM nodes only: on a platform without them the spec skips,
		// saying so (bare-metal hosts: specBareMetalHosts), after waiting for
		// TDX nodes. The CVM node provider brings back its gate faults
		// (gate-admits-unattested, ...).
		BrokenBy: tdxNodeFaults,
		Needs:    []framework.Need{framework.NeedPolicy},
	})
	specKataTDX = framework.Declare(framework.Spec{
		Name:      "a Kata pod on a TDX node is attested when it starts",
		Labels:    []string{"tee:tdx"},
		Checklist: framework.ChecklistPodRuntime,
		BrokenBy:  framework.Faults(tdxNodeFaults, tdxGuestFaults, kataPodFaults),
		// A machine the faulty gate let in has an unapproved measurement,
		// so a Kata pod placed on it fails its own attestation.
		MayAlsoFailUnder: []string{"gate-admits-unattested"},
		Needs:            []framework.Need{framework.NeedPolicy},
	})
	specKataSNP = framework.Declare(framework.Spec{
		Name:      "a Kata pod on an SEV-SNP node is attested when it starts",
		Labels:    []string{"tee:snp"},
		Checklist: framework.ChecklistPodRuntime,
		BrokenBy:  framework.Faults(snpNodeFaults, snpGuestFaults, kataPodFaults),
		Needs:     []framework.Need{framework.NeedPolicy},
	})
)

var _ = describe(func(s *suite) {
	Describe("Attestation gating", framework.Label("attestation"), func() {
		var ns string
		BeforeEach(func(ctx SpecContext) { ns = s.CreateNamespace(ctx, s.c.Tenant, "attestation") })
		JustAfterEach(func(ctx SpecContext) { framework.Diagnose(ctx, s.c, ns) })

		specGateRefuses.It(func(ctx SpecContext) {
			// Demand two TDX nodes so the platform provisions (and gates) machines.
			for i := 0; i < 2; i++ {
				s.createPod(ctx, ns, podSpec{name: fmt.Sprintf("tdx-%d", i), antiAffinity: "gate", selector: map[string]string{mgmt.PropertyConfidentialCompute: teename.TDX}})
			}
			for i := 0; i < 2; i++ {
				s.waitRunning(ctx, ns, fmt.Sprintf("tdx-%d", i), 45*time.Second)
			}
			// A refused machine that joined anyway shows here too: its trace
			// is missing, says the gate refused it, or does not verify.
			nodes := s.gatedNodes(ctx)
			if len(nodes) == 0 {
				Skip("no cloud Confidential VM node in the tenant: bare-metal Kata hosts join on a capability check instead (see the Bare-metal Kata hosts specs)")
			}
			var bad []string
			for _, n := range nodes {
				if n.problem != "" {
					bad = append(bad, n.problem)
				}
			}
			Expect(bad).To(BeEmpty(), strings.Join(bad, "; "))
		})

		kataSpec := func(name, tee, runtimeClass string) func(SpecContext) {
			return func(ctx SpecContext) {
				s.createPod(ctx, ns, podSpec{name: name, runtimeClass: runtimeClass, selector: map[string]string{mgmt.PropertyConfidentialCompute: tee}})
				pod := s.waitRunning(ctx, ns, name, 45*time.Second)
				evs := s.events(ctx, ns, name, "Attested")
				Expect(evs).NotTo(BeEmpty(), "pod %s runs on %s without an Attested event: it started without verified evidence", name, pod.Spec.NodeName)
				n := s.node(ctx, pod.Spec.NodeName)
				expectLabels(n, map[string]string{mgmt.PropertyConfidentialCompute: tee})
				s.verifyPodEvidence(ctx, pod, n.Labels[mgmt.PropertyNodeType], tee, evs[0].Message)
			}
		}
		specKataTDX.It(kataSpec("kata-tdx", teename.TDX, "kata-qemu-tdx"))
		specKataSNP.It(kataSpec("kata-snp", teename.SNP, "kata-qemu-snp"))
	})
})

// verifyPodEvidence reads the verdict the Attested event names from the
// attestation service and checks it is this pod's: bound to its UID, and
// evidence the spec's own verifier accepts under the run's policy. The
// evidence goes into the report.
func (s *suite) verifyPodEvidence(ctx context.Context, pod *corev1.Pod, nodeType, tee, event string) verifier.Verdict {
	GinkgoHelper()
	const prefix = "Pod sandbox attested: verdict "
	Expect(event).To(HavePrefix(prefix), "pod %s: the Attested event names no verdict", pod.Name)
	f := strings.Fields(strings.TrimPrefix(event, prefix))
	Expect(f).NotTo(BeEmpty(), "pod %s: the Attested event names no verdict: %q", pod.Name, event)
	Expect(s.Policy).NotTo(BeNil(), "no attestation policy for this run: give cctest run --policy")
	svc := s.attestationService(ctx)
	defer svc.Close()
	rec, err := svc.Verdict(ctx, f[0])
	Expect(err).NotTo(HaveOccurred(), "pod %s: verdict %s from the attestation service", pod.Name, f[0])
	Expect(rec.Context).To(Equal("pod:"+string(pod.UID)), "pod %s: verdict %s is bound to %q, not to this pod", pod.Name, rec.ID, rec.Context)
	Expect(rec.Evidence).NotTo(BeNil(), "pod %s: verdict %s carries no evidence to check", pod.Name, rec.ID)
	nonce, err := hex.DecodeString(rec.Nonce)
	Expect(err).NotTo(HaveOccurred(), "pod %s: verdict %s nonce %q", pod.Name, rec.ID, rec.Nonce)
	rd := verifier.BindReportData(nonce, rec.Context)
	v := s.Verifier.Verify(*rec.Evidence, s.Policy, rd[:])
	AddReportEntry(reports.EvidenceEntry, reports.Evidence{Subject: pod.Namespace + "/" + pod.Name, Kind: "pod", NodeType: nodeType,
		TEE: tee, Nonce: rec.Nonce, Raw: rec.Evidence.Raw, Verdict: v})
	Expect(v).To(PassVerification(tee), "pod %s started on evidence the spec's own verification rejects", pod.Name)
	return v
}
