package suites

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cctest/cctest/api/teename"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/attest/client"
	"github.com/cctest/cctest/attest/floor"
	"github.com/cctest/cctest/attest/kbs"
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

var specKBSBattery = framework.Declare(framework.Spec{
	Name:      "the KBS gives every session its own nonce, binds evidence to the session's nonce and tee-pubkey, and releases the spec's secret only to the genuine session",
	Checklist: framework.ChecklistPodRuntime,
	BrokenBy:  []string{"kbs-accepts-reused-nonce", "kbs-fixed-nonce", "kbs-reportdata-unbound"},
	FailsWithUnder: map[string]string{
		"kbs-accepts-reused-nonce": `the KBS accepted a bad variant: reused nonce`,
		"kbs-fixed-nonce":          `guests share one fixed nonce`,
		"kbs-reportdata-unbound":   `the KBS accepted a bad variant: REPORT_DATA not bound to the tee-pubkey`,
	},
	// Evidence the KBS must refuse (a faulty TEE, a refused CVM that
	// joined) fails the genuine exchange.
	MayAlsoFailUnder: framework.Faults(allNodeFaults, kataFaults, cvmFaults, blindVerifierFaults),
	// The KBS judges the evidence under its own policy; the spec needs
	// none, only to put its resource.
	Needs: []framework.Need{framework.NeedKBSAdmin},
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
			// One probe per confidential node, all started at once, each
			// with a fresh nonce the spec asks for itself: evidence minted
			// earlier cannot match it, and the spec checks the binding.
			type attempt struct {
				n          *corev1.Node
				tee, class string
				nonce      []byte
				pod        *corev1.Pod
			}
			var started []attempt
			for i := range nodes.Items {
				n := &nodes.Items[i]
				tee := n.Labels[mgmt.PropertyConfidentialCompute]
				class, ok := kataClass[tee]
				if !ok || !slices.Contains(s.TEEs, tee) || n.Spec.Unschedulable {
					continue
				}
				cvm := s.confidentialPath(ctx, n) == mgmt.PathCloudVM
				if cvm {
					class = "" // the node VM is the TEE: a plain pod runs in it
				}
				ch, err := svc.Challenge(ctx, "")
				Expect(err).NotTo(HaveOccurred(), "attestation service challenge")
				nonce, err := ch.NonceBytes()
				Expect(err).NotTo(HaveOccurred(), "attestation service challenge")
				pp := s.probePod("attest-"+n.Name, class, map[string]string{"kubernetes.io/hostname": n.Name}, nil,
					"attest", "--discover", "--nonce", hex.EncodeToString(nonce))
				if cvm {
					pp.Spec.Tolerations = tolerateAll
				}
				created, err := s.c.Tenant.CoreV1().Pods(ns).Create(ctx, pp, metav1.CreateOptions{})
				Expect(err).NotTo(HaveOccurred(), "create probe pod %s/%s", ns, pp.Name)
				started = append(started, attempt{n: n, tee: tee, class: class, nonce: nonce, pod: created})
			}
			probed := len(started)
			for _, a := range started {
				n, tee, class, nonce := a.n, a.tee, a.class, a.nonce
				pod, r := s.awaitProbe(ctx, s.c.Tenant, ns, a.pod)
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

var _ = describe(func(s *suite) {
	Describe("The KBS handshake", framework.Label("attestation", "tee:tdx", "tee:snp"), func() {
		var ns string
		BeforeEach(func(ctx SpecContext) { ns = s.CreateNamespace(ctx, s.c.Tenant, "kbs-battery") })
		JustAfterEach(func(ctx SpecContext) { framework.Diagnose(ctx, s.c, ns) })

		specKBSBattery.It(func(ctx SpecContext) {
			Expect(s.KBS).NotTo(BeNil(), "no KBS for this run: give cctest run --kbs-url and --kbs-admin-key")
			secret := s.putSecret(ctx, ns, "battery")
			for _, tee := range s.TEEs {
				s.createPod(ctx, ns, podSpec{name: "demand-" + tee, selector: map[string]string{mgmt.PropertyConfidentialCompute: tee}})
				s.waitRunning(ctx, ns, "demand-"+tee, 30*time.Second)
			}
			nodes, err := s.c.Tenant.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			Expect(err).NotTo(HaveOccurred())
			var bad []string
			seen := map[string]bool{} // node types done
			for _, n := range nodes.Items {
				tee := n.Labels[mgmt.PropertyConfidentialCompute]
				class, ok := kataClass[tee]
				nodeType := n.Labels[mgmt.PropertyNodeType]
				if !ok || !slices.Contains(s.TEEs, tee) || n.Spec.Unschedulable || seen[tee+"/"+nodeType] {
					continue
				}
				seen[tee+"/"+nodeType] = true
				cvm := s.confidentialPath(ctx, &n) == mgmt.PathCloudVM
				if cvm {
					class = "" // the node VM is the TEE: a plain pod runs in it
				}
				bad = append(bad, s.kbsBattery(ctx, ns, &n, tee, class, secret)...)
			}
			Expect(seen).NotTo(BeEmpty(), "no confidential node to run the KBS handshake from")
			Expect(bad).To(BeEmpty(), strings.Join(bad, "; "))
		})
	})
})

// kbsBattery is the KBS handshake run by the spec as a KBS client, with
// evidence a probe on the node produces for the REPORT_DATA the client
// computed (kbs.Client.ReportData: SHA-384 of the JCS runtime data). Two
// challenges must carry different nonces; the same evidence with another
// tee-pubkey must be refused; the genuine attestation must pass in its
// session (Trustee keeps a session whose attestation failed) and get the
// spec's secret; the genuine attestation replayed in a new session must be
// refused. A session whose attestation was refused must not get the secret. It returns what went
// wrong, one message per check.
func (s *suite) kbsBattery(ctx context.Context, ns string, n *corev1.Node, tee, class string, secret specSecret) []string {
	GinkgoHelper()
	who := fmt.Sprintf("node %s (%s %s)", n.Name, n.Labels[mgmt.PropertyNodeType], tee)
	kt, err := kbs.KBSTee(tee)
	Expect(err).NotTo(HaveOccurred())
	client := func() (*kbs.Client, kbs.Challenge) {
		c, err := kbs.New(s.KBS.URL, kbs.Options{CAPEM: s.KBS.CAPEM})
		Expect(err).NotTo(HaveOccurred(), "KBS client")
		DeferCleanup(c.Close)
		ch, err := c.Auth(ctx, kt)
		Expect(err).NotTo(HaveOccurred(), "KBS auth for %s", kt)
		return c, ch
	}
	var bad []string
	a, chA := client()
	b, chB := client()
	if chA.Nonce == chB.Nonce {
		bad = append(bad, fmt.Sprintf("%s: two /auth challenges carried the same nonce %q: guests share one fixed nonce", who, chA.Nonce))
	}
	rd, err := a.ReportData()
	Expect(err).NotTo(HaveOccurred(), "REPORT_DATA for the KBS challenge")
	pp := s.probePod("kbs-"+n.Name, class, map[string]string{"kubernetes.io/hostname": n.Name}, nil,
		"attest", "--no-submit", "--report-data", hex.EncodeToString(rd[:]))
	if class == "" { // a Confidential VM node: past the taint that keeps other pods off it
		pp.Spec.Tolerations = tolerateAll
	}
	_, r := s.runProbe(ctx, ns, pp)
	if r.Evidence == "" {
		return append(bad, fmt.Sprintf("%s: no evidence for the KBS handshake from the probe: %s", who, r.Reason))
	}
	ev, err := r.EvidenceOf()
	Expect(err).NotTo(HaveOccurred(), "%s: the probe's evidence", who)
	// The floor: the probe bound the evidence to the client's REPORT_DATA
	// (so a refusal below is the KBS's doing) and it is no debug guest.
	if err := floor.Check(tee, ev.Raw, rd[:]); err != nil {
		return append(bad, fmt.Sprintf("%s: the probe's evidence is below the floor: %v", who, err))
	}
	primary, err := kbs.PrimaryEvidence(ev)
	Expect(err).NotTo(HaveOccurred(), "%s: KBS primary evidence", who)
	genuine := kbs.Attestation{RuntimeData: kbs.RuntimeData{Nonce: chA.Nonce, TeePubKey: a.PublicKey()},
		TeeEvidence: kbs.CompositeEvidence{PrimaryEvidence: primary}}
	refused := func(err error) bool {
		var ke *kbs.Error
		return errors.As(err, &ke)
	}
	// mustRefuse submits a bad variant in a session: the KBS must refuse
	// it, and then refuse that session the spec's secret.
	mustRefuse := func(sess *kbs.Client, att kbs.Attestation, accepted, submitting string) {
		switch _, err := sess.PostAttestation(ctx, att); {
		case err == nil:
			bad = append(bad, fmt.Sprintf("%s: the KBS accepted a bad variant: %s", who, accepted))
		case !refused(err):
			bad = append(bad, fmt.Sprintf("%s: %s: %v", who, submitting, err))
		default:
			if _, err := sess.Resource(ctx, secret.repo, secret.typ, secret.tag); !refused(err) {
				bad = append(bad, fmt.Sprintf("%s: the KBS did not refuse the spec's secret to a session whose attestation it refused (%v)", who, err))
			}
		}
	}
	// The same evidence, in its own session, with another session's key:
	// a KBS that does not hash the tee-pubkey into the expected REPORT_DATA
	// would encrypt the secret to whoever sent it.
	otherKey := genuine
	otherKey.RuntimeData.TeePubKey = b.PublicKey()
	mustRefuse(a, otherKey, "REPORT_DATA not bound to the tee-pubkey (the evidence passed with another key)",
		"submitting the evidence with another tee-pubkey")
	if _, err := a.PostAttestation(ctx, genuine); err != nil {
		bad = append(bad, fmt.Sprintf("%s: the KBS refused the genuine attestation (%v): its refusals prove nothing", who, err))
	} else {
		got, err := a.Resource(ctx, secret.repo, secret.typ, secret.tag)
		sum := sha256.Sum256(got)
		switch {
		case err != nil:
			bad = append(bad, fmt.Sprintf("%s: the genuine session did not get the spec's secret %s: %v", who, secret.path, err))
		case hex.EncodeToString(sum[:]) != secret.sha256:
			bad = append(bad, fmt.Sprintf("%s: the resource released to the genuine session is not the spec's secret %s", who, secret.path))
		}
	}
	// The genuine attestation replayed as it is in a new session: its
	// nonce was the other session's.
	c, _ := client()
	mustRefuse(c, genuine, "reused nonce (an attestation replayed in a new session passed)",
		"replaying the attestation in a new session")
	return bad
}

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
