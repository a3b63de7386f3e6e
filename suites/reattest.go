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
	"github.com/cctest/cctest/attest/floor"
	"github.com/cctest/cctest/attest/tamper"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/framework"
	"github.com/cctest/cctest/probe"
	"github.com/cctest/cctest/reports"
)

var specReattest = framework.Declare(framework.Spec{
	Name:      "every confidential node is re-attested by a probe with the spec's own nonce",
	Checklist: framework.ChecklistValidateInside,
	BrokenBy:  framework.Faults([]string{"attestation-service-accepts-all", "attestation-service-down", "service-accepts-replay"}, blindVerifierFaults),
	FailsWithUnder: map[string]string{
		"attestation-service-accepts-all": `the attestation service passed the evidence without running any check`,
		"attestation-service-down":        `attestation service challenge`,
		"service-accepts-replay":          `the attestation service accepted a bad variant: replayed nonce`,
		"verifier-skips-checks":           `evidence below the floor: floor: debug`,
		"revoked-pck":                     `evidence fails the spec's own verification: .*revoked`,
		"revoked-ask":                     `evidence fails the spec's own verification: .*ASK was revoked`,
		"kernel-changed-mrtd-same":        `evidence fails the spec's own verification: .*RTMR`,
		"initdata-unbound":                `evidence fails the spec's own verification: (mrconfigid|host-data)`,
	},
	// A refused CVM the faulty bootstrap let in fails its re-attestation
	// when it is still in the tenant.
	MayAlsoFailUnder: framework.Faults(allNodeFaults, kataFaults, cvmFaults),
	Needs:            []framework.Need{framework.NeedPolicy},
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
			var fresh []freshEvidence
			probed := 0
			for _, n := range nodes.Items {
				tee := n.Labels[mgmt.PropertyConfidentialCompute]
				class, ok := kataClass[tee]
				if !ok || !slices.Contains(s.TEEs, tee) || n.Spec.Unschedulable {
					continue
				}
				cvm := s.confidentialPath(ctx, &n) == mgmt.PathCloudVM
				if cvm {
					class = "" // the node VM is the TEE: a plain pod runs in it
				}
				probed++
				// A fresh nonce the spec asks for itself: evidence minted
				// earlier cannot match it, and the spec checks the binding.
				ch, err := svc.Challenge(ctx, "")
				Expect(err).NotTo(HaveOccurred(), "attestation service challenge")
				nonce, err := ch.NonceBytes()
				Expect(err).NotTo(HaveOccurred(), "attestation service challenge")
				name := "attest-" + n.Name
				pp := s.probePod(name, class, map[string]string{"kubernetes.io/hostname": n.Name}, nil,
					"attest", "--discover", "--nonce", hex.EncodeToString(nonce))
				if cvm {
					pp.Spec.Tolerations = tolerateAll
				}
				pod, r := s.runProbe(ctx, ns, pp)
				ev, err := r.FetchEvidence(ctx, svc)
				if err != nil {
					bad = append(bad, fmt.Sprintf("node %s: no evidence from the probe (%s): %v", n.Name, r.Reason, err))
					continue
				}
				rd := verifier.BindReportData(nonce, probe.ContextFor(string(pod.UID)))
				v := s.Verifier.Verify(ev, pol, rd[:])
				fl := floor.Check(tee, ev.Raw, rd[:]) // holds even when the shared verifier is wrong
				switch {
				case fl != nil:
					bad = append(bad, fmt.Sprintf("node %s (%s): evidence below the floor: %v", n.Name, tee, fl))
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
				fresh = append(fresh, freshEvidence{node: n.Name, tee: tee, class: class, ev: ev})
			}
			Expect(probed).To(BeNumerically(">", 0), "no confidential node to re-attest")
			Expect(bad).To(BeEmpty(), strings.Join(bad, "; "))
			// The live tamper test: the service must refuse every bad variant
			// of each node's fresh evidence, then pass the genuine one under
			// the same nonce (so the refusals were for the tampering).
			for i, f := range fresh {
				other := fresh[(i+1)%len(fresh)].ev // another node's, or this node's for another nonce
				bad = append(bad, s.tamperBattery(ctx, ns, svc, f, other)...)
			}
			Expect(bad).To(BeEmpty(), strings.Join(bad, "; "))
		})
	})
})

// freshEvidence is a node's evidence from the re-attestation probe.
type freshEvidence struct {
	node, tee, class string
	ev               verifier.Evidence
}

// tamperBattery asks a probe on the node for evidence bound to a fresh
// nonce that it does not submit, then submits to the attestation service
// each bad variant (attest/tamper), the genuine evidence, and the genuine
// evidence again (a replayed nonce). Every variant must be refused and the
// genuine one pass. It returns what went wrong, one message per variant.
func (s *suite) tamperBattery(ctx context.Context, ns string, svc *client.Client, f freshEvidence, other verifier.Evidence) []string {
	GinkgoHelper()
	ch, err := svc.Challenge(ctx, "")
	Expect(err).NotTo(HaveOccurred(), "attestation service challenge")
	nonce, err := ch.NonceBytes()
	Expect(err).NotTo(HaveOccurred(), "attestation service challenge")
	pp := s.probePod("tamper-"+f.node, f.class, map[string]string{"kubernetes.io/hostname": f.node}, nil,
		"attest", "--discover", "--no-submit", "--nonce", hex.EncodeToString(nonce))
	if f.class == "" { // a Confidential VM node: past the taint that keeps other pods off it
		pp.Spec.Tolerations = tolerateAll
	}
	pod, r := s.runProbe(ctx, ns, pp)
	if r.Evidence == "" {
		return []string{fmt.Sprintf("node %s: no evidence for the tamper test from the probe: %s", f.node, r.Reason)}
	}
	ev, err := r.EvidenceOf()
	Expect(err).NotTo(HaveOccurred(), "node %s: tamper-test evidence", f.node)
	bindTo := probe.ContextFor(string(pod.UID))
	rd := verifier.BindReportData(nonce, bindTo)
	variants, err := tamper.Variants(ev, &other, rd)
	if err != nil {
		return []string{fmt.Sprintf("node %s: %v", f.node, err)}
	}
	var bad []string
	submit := func(name string, e verifier.Evidence, wantPass bool) {
		rec, err := svc.Attest(ctx, nonce, bindTo, e)
		switch {
		case err != nil:
			bad = append(bad, fmt.Sprintf("node %s (%s): submitting %s: %v", f.node, f.tee, name, err))
		case rec.Pass && !wantPass:
			bad = append(bad, fmt.Sprintf("node %s (%s): the attestation service accepted a bad variant: %s (verdict %s)", f.node, f.tee, name, rec.ID))
		case !rec.Pass && wantPass:
			bad = append(bad, fmt.Sprintf("node %s (%s): the attestation service refused the genuine evidence after the variants (%s): the refusals prove nothing", f.node, f.tee, rec.Reason))
		}
	}
	for _, v := range variants {
		submit(v.Name, v.Evidence, false)
	}
	submit("genuine evidence", ev, true)
	submit(tamper.Replay, ev, false)
	return bad
}

// attestationService connects to the tenant's attestation service the way
// a client outside the cluster finds it (its discovery ConfigMap).
func (s *suite) attestationService(ctx context.Context) *client.Client {
	GinkgoHelper()
	return s.attestationServiceOf(ctx, s.c.Tenant)
}
