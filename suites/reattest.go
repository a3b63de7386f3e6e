package suites

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/attest/client"
	"github.com/cctest/cctest/attest/discovery"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/framework"
	"github.com/cctest/cctest/probe"
	"github.com/cctest/cctest/reports"
)

var specReattest = spec("every confidential node is re-attested by a probe with the spec's own nonce")

// kataClass is the Kata runtime of each TEE: on the pod-level path only the
// Kata guest sees the TEE device.
var kataClass = map[string]string{mgmt.TechnologyTDX: "kata-qemu-tdx", mgmt.TechnologySEVSNP: "kata-qemu-snp"}

var _ = Describe("Attestation of running nodes", framework.Label("attestation", "tee:tdx", "tee:snp"), func() {
	var ns string
	BeforeEach(func(ctx SpecContext) { ns = framework.CreateNamespace(ctx, c.Tenant, "reattest") })
	JustAfterEach(func(ctx SpecContext) { framework.Diagnose(ctx, c, ns) })

	It(specReattest, func(ctx SpecContext) {
		pol := framework.Policy()
		if pol == nil {
			Fail("no attestation policy for this run: give cctest run --policy")
		}
		// Make sure each TEE has a node, then probe every confidential node.
		for _, tee := range framework.TEEs() {
			createPod(ctx, ns, podSpec{name: "demand-" + tee, selector: map[string]string{"confidential-compute": tee}})
			waitRunning(ctx, ns, "demand-"+tee, 30e9)
		}
		svc := attestationService(ctx)
		defer svc.Close()
		nodes, err := c.Tenant.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			Fail(err.Error())
		}
		var bad []string
		probed := 0
		for _, n := range nodes.Items {
			tee := n.Labels[mgmt.PropertyConfidentialCompute]
			class, ok := kataClass[tee]
			if !ok || !slices.Contains(framework.TEEs(), tee) || n.Spec.Unschedulable {
				continue
			}
			probed++
			// A fresh nonce the spec asks for itself: evidence minted
			// earlier cannot match it, and the spec checks the binding.
			ch, err := svc.Challenge(ctx, "")
			if err != nil {
				Fail("attestation service challenge: " + err.Error())
			}
			nonce, err := ch.NonceBytes()
			if err != nil {
				Fail("attestation service challenge: " + err.Error())
			}
			name := "attest-" + n.Name
			pod, r := runProbe(ctx, ns, probePod(name, class, map[string]string{"kubernetes.io/hostname": n.Name}, nil,
				"attest", "--discover", "--nonce", hex.EncodeToString(nonce)))
			ev, err := r.FetchEvidence(ctx, svc)
			if err != nil {
				bad = append(bad, fmt.Sprintf("node %s: no evidence from the probe (%s): %v", n.Name, r.Reason, err))
				continue
			}
			rd := verifier.BindReportData(nonce, probe.ContextFor(string(pod.UID)))
			v := verifier.New(verifier.Options{}).Verify(ev, pol, rd[:])
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
		if probed == 0 {
			Fail("no confidential node to re-attest")
		}
		if len(bad) > 0 {
			Fail(strings.Join(bad, "; "))
		}
	})
})

// attestationService connects to the tenant's attestation service the way
// a client outside the cluster finds it (its discovery ConfigMap).
func attestationService(ctx context.Context) *client.Client {
	GinkgoHelper()
	d, err := discovery.Discover(ctx, c.Tenant)
	if err != nil {
		Fail(err.Error())
	}
	url := d.ExternalURL
	if url == "" {
		url = d.URL
	}
	svc, err := client.New(url, client.Options{CAPEM: d.CAPEM})
	if err != nil {
		Fail("attestation service client: " + err.Error())
	}
	return svc
}
