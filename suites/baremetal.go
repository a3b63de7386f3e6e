package suites

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/api/teename"
	"github.com/cctest/cctest/attest/gatetrace"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/framework"
	"github.com/cctest/cctest/reports"
)

// Host capability labels a bare-metal Kata host carries (framework/contract):
// NFD's cpu-security labels, kata-deploy's runtime label, and the TDX quote
// path from the NFD feature file `cctest attest --host` writes.
var hostCapabilityLabels = map[string][]string{
	teename.TDX: {"feature.node.kubernetes.io/cpu-security.tdx.enabled", "feature.node.kubernetes.io/cctest-tdx-quote-path", "katacontainers.io/kata-runtime"},
	teename.SNP: {"feature.node.kubernetes.io/cpu-security.sev.snp.enabled", "katacontainers.io/kata-runtime"},
}

var (
	specBareMetalHosts = framework.Declare(framework.Spec{
		Name:      "every bare-metal confidential host joined after the host capability check only, with no TEE evidence of its own",
		Labels:    []string{"host-access", "tee:tdx", "tee:snp"},
		Checklist: framework.ChecklistPodRuntime,
		BrokenBy:  []string{"properties-not-labelled", "gate-admits-unattested", "host-quotes-itself"},
		FailsWithUnder: map[string]string{
			// Unlabelled hosts take no pod: the spec's own wait names it.
			"properties-not-labelled": `(no bare-metal confidential host in the tenant to check|bare-metal hosts joined without passing the host capability check|will not run: FailedScheduling)`,
			"gate-admits-unattested":  `bare-metal hosts joined without passing the host capability check`,
			"host-quotes-itself":      `present TEE evidence of their own`,
		},
		MayAlsoFailUnder: framework.Faults(allNodeFaults, kataFaults, blindVerifierFaults),
	})
	specKataGuestEvidence = framework.Declare(framework.Spec{
		Name:      "each Kata guest attests with evidence of its own: its own REPORT_DATA, the guest image measured at its VM size, never its host's",
		Labels:    []string{"tee:tdx"},
		Checklist: framework.ChecklistPodRuntime,
		BrokenBy:  []string{"kata-guests-share-evidence"},
		FailsWith: `present the same measurement \S+: their evidence does not come from guest VMs sized from each pod but from one shared TEE`,
		// A host the faulty join let in runs guests its policy refuses.
		MayAlsoFailUnder: framework.Faults(allNodeFaults, kataFaults, blindVerifierFaults),
		Needs:            []framework.Need{framework.NeedPolicy},
	})
)

var _ = describe(func(s *suite) {
	Describe("Bare-metal Kata hosts", framework.Label("attestation", "path:pod"), func() {
		var ns string
		BeforeEach(func(ctx SpecContext) { ns = s.CreateNamespace(ctx, s.c.Tenant, "bare-metal") })
		JustAfterEach(func(ctx SpecContext) { framework.Diagnose(ctx, s.c, ns) })

		specBareMetalHosts.It(func(ctx SpecContext) {
			// Two TDX hosts (the platform meets its refused one on the way)
			// and an SNP host.
			for i := 0; i < 2; i++ {
				s.createPod(ctx, ns, podSpec{name: fmt.Sprintf("tdx-%d", i), antiAffinity: "bare-metal", selector: map[string]string{mgmt.PropertyConfidentialCompute: teename.TDX}})
			}
			s.createPod(ctx, ns, podSpec{name: "snp", selector: map[string]string{mgmt.PropertyConfidentialCompute: teename.SNP}})
			for _, p := range []string{"tdx-0", "tdx-1", "snp"} {
				s.waitRunning(ctx, ns, p, 45*time.Second)
			}
			nodes, err := s.c.Tenant.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			Expect(err).NotTo(HaveOccurred(), "list tenant nodes")
			var hosts []corev1.Node
			for _, n := range nodes.Items {
				if s.confidentialPath(ctx, &n) == mgmt.PathPodRuntime {
					hosts = append(hosts, n)
				}
			}
			Expect(hosts).NotTo(BeEmpty(), "no bare-metal confidential host in the tenant to check")
			var uncapable, quoting []string
			for _, n := range hosts {
				tee := n.Labels[mgmt.PropertyConfidentialCompute]
				var missing []string
				for _, l := range hostCapabilityLabels[tee] {
					if n.Labels[l] != "true" {
						missing = append(missing, l)
					}
				}
				if len(missing) > 0 {
					uncapable = append(uncapable, fmt.Sprintf("%s (%s) lacks %s", n.Name, tee, strings.Join(missing, ", ")))
				}
				if _, ok := n.Annotations[gatetrace.Annotation]; ok {
					quoting = append(quoting, n.Name)
				}
			}
			Expect(uncapable).To(BeEmpty(), "bare-metal hosts joined without passing the host capability check: %s", strings.Join(uncapable, "; "))
			Expect(quoting).To(BeEmpty(), "bare-metal hosts %s present TEE evidence of their own (a gate trace, %s): a bare-metal host is not a TEE guest and cannot attest itself; only its Kata guests can",
				strings.Join(quoting, ", "), gatetrace.Annotation)
		})

		specKataGuestEvidence.It(func(ctx SpecContext) {
			// Three guests on one host, each asked for evidence over its own
			// nonce through the CoCo guest API: two of the default size, one
			// whose limits give it a bigger VM (3 vCPUs, 2560 MiB).
			sel := map[string]string{mgmt.PropertyConfidentialCompute: teename.TDX}
			verdicts := map[string]verifier.Verdict{}
			var n *corev1.Node
			for _, name := range []string{"guest-a", "guest-b", "guest-c"} {
				nonce := randomHex(32)
				pod := s.probePod(name, "kata-qemu-tdx", sel, nil, "guest", "--runtime-data", nonce)
				pod.Annotations = map[string]string{annotationKernelParams: kataKernelParams}
				if name == "guest-c" {
					pod.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("512Mi")}
				}
				p, r := s.runProbe(ctx, ns, pod)
				Expect(r.Pass).To(BeTrue(), "Kata guest %s on %s: %s", name, p.Spec.NodeName, r.Reason)
				if n == nil {
					n = s.node(ctx, p.Spec.NodeName)
					sel = map[string]string{"kubernetes.io/hostname": n.Name}
				}
				ev, err := r.EvidenceOf()
				Expect(err).NotTo(HaveOccurred(), "Kata guest %s: its evidence", name)
				var rd [64]byte
				copy(rd[:], nonce)
				verdicts[name] = s.Verifier.Verify(ev, s.Policy, rd[:])
				AddReportEntry(reports.EvidenceEntry, reports.Evidence{Subject: ns + "/" + name, Kind: "pod", NodeType: n.Labels[mgmt.PropertyNodeType],
					TEE: teename.TDX, Nonce: nonce, Raw: ev.Raw, Verdict: verdicts[name]})
			}
			seen := map[string]string{}
			for _, name := range []string{"guest-a", "guest-b", "guest-c"} {
				rd := verdicts[name].ReportData
				Expect(seen).NotTo(HaveKey(rd), "Kata guests %s and %s present one REPORT_DATA (%s): each guest's evidence must answer its own challenge", seen[rd], name, short(rd))
				seen[rd] = name
			}
			// Kata sizes each guest VM from its pod; TDX RTMR0 measures the
			// size, so a bigger guest reports another measurement.
			ma, mc := launchMeasurement(verdicts["guest-a"]), launchMeasurement(verdicts["guest-c"])
			Expect(mc).NotTo(Equal(ma), "Kata guests guest-a (no limits) and guest-c (2 CPUs, 512Mi of limits) on node %s present the same measurement %s: their evidence does not come from guest VMs sized from each pod but from one shared TEE",
				n.Name, short(ma))
			// Never the host's own: a host with evidence of its own (it should
			// have none) must not be what its guests present.
			if raw, ok := n.Annotations[gatetrace.Annotation]; ok {
				if t, err := gatetrace.Decode(raw); err == nil {
					if rd, err := t.ReportData(); err == nil {
						hv := s.Verifier.Verify(t.Evidence, s.Policy, rd[:])
						Expect(launchMeasurement(hv)).NotTo(Equal(ma), "Kata guest guest-a presents the measurement of its host %s's own evidence", n.Name)
					}
				}
			}
		})
	})
})

// launchMeasurement is what a guest's launch measured: MRTD and RTMR0 (TDX),
// or the SNP launch measurement.
func launchMeasurement(v verifier.Verdict) string {
	if len(v.RTMRs) > 0 {
		return v.Measurement + "/" + v.RTMRs[0]
	}
	return v.Measurement
}

// short cuts a hex value for a message.
func short(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}
