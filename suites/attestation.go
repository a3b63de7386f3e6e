package suites

import (
	"context"
	"strings"

	"github.com/cctest/cctest/api/teename"
	"github.com/cctest/cctest/probe"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/attest/floor"
	"github.com/cctest/cctest/framework"
	"github.com/cctest/cctest/reports"
)

// What a Kata guest's spec reports under the runtime faults it detects.
var (
	kataDetects  = []string{"kata-handler-missing", "attestation-service-down", "probe-evidence-replayed", "pod-attestation-skipped", "pod-verdict-reused", "kata-attests-after-start"}
	kataMessages = map[string]string{
		"kata-handler-missing":     `FailedCreatePodSandBox: .*no runtime for "kata-qemu-(tdx|snp)" is configured`,
		"attestation-service-down": `put the spec's secret into the KBS`,
		"probe-evidence-replayed":  `failed to unseal secret kbs:///\S+ .*REPORT_DATA`,
		"pod-attestation-skipped":  `env SECRET still holds the sealed secret: the process started without it being unsealed`,
		"pod-verdict-reused":       `env SECRET is not the resource kbs:///`,
		// The ordering check: the probe reads its environment when the
		// process starts; a secret unsealed after that never reaches it.
		"kata-attests-after-start": `env SECRET still holds the sealed secret: the process started without it being unsealed`,
		// The host's TEE faults show in its guests' evidence: the KBS
		// refuses to release the secret.
		"debug-td":          `failed to unseal secret kbs:///`,
		"tampered-quote":    `failed to unseal secret kbs:///`,
		"wrong-measurement": `failed to unseal secret kbs:///`,
		"snp-debug-policy":  `failed to unseal secret kbs:///`,
	}
)

// Faults of a platform whose own verifier has a blind spot and whose TDX
// machines are wrong in it: the machines join, and the specs' own checks
// (the floor, the spec's verifier and policy) must refuse their evidence.
var blindVerifierFaults = []string{"verifier-skips-checks", "revoked-pck", "revoked-ask", "kernel-changed-mrtd-same", "initdata-unbound"}

// messagesFor keeps the failure messages of the faults a spec declares.
func messagesFor(all map[string]string, faults ...[]string) map[string]string {
	out := map[string]string{}
	for _, f := range framework.Faults(faults...) {
		if m, ok := all[f]; ok {
			out[f] = m
		}
	}
	return out
}

var (
	specGateRefuses = framework.Declare(framework.Spec{
		Name:      "every confidential node joined after a passing attestation, and refused machines never joined",
		Labels:    []string{"host-access", "tee:tdx", "tee:snp", "path:cvm"},
		Checklist: framework.ChecklistCloudCVM,
		// Cloud CVM nodes only (bare-metal hosts: specBareMetalHosts); on a
		// platform without them the spec skips, saying so.
		BrokenBy:         cvmFaults,
		FailsWith:        `node \S+ has no gate trace \(annotation attestation.cctest.dev/gate\)`,
		MayAlsoFailUnder: framework.Faults(allNodeFaults, kataFaults, blindVerifierFaults),
		Needs:            []framework.Need{framework.NeedPolicy},
	})
	specKataTDX = framework.Declare(framework.Spec{
		Name:             "a Kata guest on a TDX node proves itself through the guest API and gets the run's secret from the KBS before its container starts",
		Labels:           []string{"tee:tdx", "path:pod"},
		Checklist:        framework.ChecklistPodRuntime,
		BrokenBy:         framework.Faults(kataDetects, tdxImageFaults),
		FailsWithUnder:   messagesFor(kataMessages, kataDetects, tdxImageFaults),
		MayAlsoFailUnder: framework.Faults(allNodeFaults, kataFaults, blindVerifierFaults),
		Needs:            []framework.Need{framework.NeedPolicy, framework.NeedKBSAdmin},
	})
	specKataRefused = framework.Declare(framework.Spec{
		Name:      "a Kata guest the policy does not allow (a VM size without reference values) never gets the secret, and the container that needs it is never created",
		Labels:    []string{"tee:tdx", "path:pod"},
		Checklist: framework.ChecklistPodRuntime,
		// A KBS that releases to refused evidence, a runtime that starts
		// containers without unsealing, despite a failed unsealing, or
		// before unsealing.
		BrokenBy:         []string{"kbs-ignores-resource-policy", "pod-attestation-skipped", "kata-starts-on-failure", "kata-attests-after-start"},
		FailsWith:        `no Failed event for \S+: its containers ran instead`,
		MayAlsoFailUnder: framework.Faults(allNodeFaults, kataFaults, blindVerifierFaults),
		Needs:            []framework.Need{framework.NeedPolicy, framework.NeedKBSAdmin},
	})
	specKataSNP = framework.Declare(framework.Spec{
		Name:             "a Kata guest on an SEV-SNP node proves itself through the guest API and gets the run's secret from the KBS before its container starts",
		Labels:           []string{"tee:snp", "path:pod"},
		Checklist:        framework.ChecklistPodRuntime,
		BrokenBy:         framework.Faults(kataDetects, snpImageFaults),
		FailsWithUnder:   messagesFor(kataMessages, kataDetects, snpImageFaults),
		MayAlsoFailUnder: framework.Faults(allNodeFaults, kataFaults, blindVerifierFaults),
		Needs:            []framework.Need{framework.NeedPolicy, framework.NeedKBSAdmin},
	})
)

var _ = describe(func(s *suite) {
	Describe("Attestation gating", framework.Label("attestation"), func() {
		var ns string
		BeforeEach(func(ctx SpecContext) { ns = s.CreateNamespace(ctx, s.c.Tenant, "attestation") })
		JustAfterEach(func(ctx SpecContext) { framework.Diagnose(ctx, s.c, ns) })

		specGateRefuses.It(func(ctx SpecContext) {
			// Demand the CVM node types so the platform boots (and gates)
			// VMs; bare-metal Kata hosts join on a capability check instead
			// (the Bare-metal Kata hosts specs).
			s.cvmDemand(ctx, ns, 1)
			// A refused machine that joined anyway shows here too: its trace
			// is missing, says the gate refused it, or does not verify.
			nodes := s.gatedNodes(ctx)
			Expect(nodes).NotTo(BeEmpty(), "no cloud Confidential VM node in the tenant to check")
			var bad []string
			for _, n := range nodes {
				if n.problem != "" {
					bad = append(bad, n.problem)
				}
			}
			Expect(bad).To(BeEmpty(), strings.Join(bad, "; "))
		})

		// Two guests, each with its own secret: a runtime that hands one
		// guest what another unsealed shows up in the second.
		kataSpec := func(name, tee, runtimeClass string) func(SpecContext) {
			return func(ctx SpecContext) {
				for _, pod := range []string{name, name + "-2"} {
					s.guestGetsItsSecret(ctx, ns, pod, tee, runtimeClass)
				}
			}
		}
		specKataRefused.It(func(ctx SpecContext) {
			// Kata sizes the guest VM from the pod's limits: 1 + 4 vCPUs, a
			// size the policy has no reference values for.
			secret := s.putSecret(ctx, ns, "oversized")
			pod := s.probePod("oversized", "kata-qemu-tdx", map[string]string{mgmt.PropertyConfidentialCompute: teename.TDX}, nil,
				"guest", "--resource", secret.path, "--env", secretEnv)
			pod.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}
			s.withSealedSecret(ctx, pod, secret)
			_, err := s.c.Tenant.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred(), "create pod %s/oversized", ns)
			s.expectSecretWithheld(ctx, ns, "oversized", secret)
		})

		specKataTDX.It(kataSpec("kata-tdx", teename.TDX, "kata-qemu-tdx"))
		specKataSNP.It(kataSpec("kata-snp", teename.SNP, "kata-qemu-snp"))
	})
})

// guestGetsItsSecret runs a probe in a Kata guest that needs a fresh
// secret from the KBS and checks the guest proved itself and got it.
func (s *suite) guestGetsItsSecret(ctx context.Context, ns, name, tee, runtimeClass string) {
	GinkgoHelper()
	secret := s.putSecret(ctx, ns, name)
	nonce := randomHex(32) // 64 printable characters: REPORT_DATA, raw
	pod := s.probePod(name, runtimeClass, map[string]string{mgmt.PropertyConfidentialCompute: tee}, nil,
		"guest", "--runtime-data", nonce, "--resource", secret.path, "--env", secretEnv)
	s.withSealedSecret(ctx, pod, secret)
	p, r := s.runProbe(ctx, ns, pod)
	Expect(r.Pass).To(BeTrue(), "pod %s on %s: %s", name, p.Spec.NodeName, r.Reason)
	Expect(r.ResourceSHA256).To(Equal(secret.sha256), "pod %s: the resource the guest got through the data hub is not the secret the spec put into the KBS", name)
	Expect(r.EnvSHA256).To(Equal(secret.sha256), "pod %s: the container did not start with the unsealed secret", name)
	n := s.node(ctx, p.Spec.NodeName)
	expectLabels(n, map[string]string{mgmt.PropertyConfidentialCompute: tee})
	s.verifyGuestEvidence(p, r, n.Labels[mgmt.PropertyNodeType], tee, nonce)
}

// verifyGuestEvidence checks the evidence a Kata guest gave the probe
// through /aa/evidence: the spec's own nonce, raw, as REPORT_DATA, and
// evidence the spec's own verifier accepts under the run's policy. The
// evidence goes into the report.
func (s *suite) verifyGuestEvidence(pod *corev1.Pod, r probe.Result, nodeType, tee, nonce string) {
	GinkgoHelper()
	Expect(s.Policy).NotTo(BeNil(), "no attestation policy for this run: give cctest run --policy")
	ev, err := r.EvidenceOf()
	Expect(err).NotTo(HaveOccurred(), "pod %s: the probe's evidence (%s)", pod.Name, r.EvidenceOmitted)
	var rd [64]byte
	copy(rd[:], nonce)
	// The floor first: it holds even when the shared verifier is wrong.
	Expect(floor.Check(tee, ev.Raw, rd[:])).To(Succeed(), "pod %s: the guest's evidence is below the floor", pod.Name)
	v := s.Verifier.Verify(ev, s.Policy, rd[:])
	AddReportEntry(reports.EvidenceEntry, reports.Evidence{Subject: pod.Namespace + "/" + pod.Name, Kind: "pod", NodeType: nodeType,
		TEE: tee, Nonce: nonce, Raw: ev.Raw, Verdict: v})
	Expect(v).To(PassVerification(tee), "pod %s: the guest's evidence fails the spec's own verification", pod.Name)
}
