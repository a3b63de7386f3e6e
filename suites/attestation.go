package suites

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/framework"
	"github.com/cctest/cctest/reports"
)

var getOpts = metav1.GetOptions{}

var (
	specGateRefuses = spec("every confidential node joined after a passing attestation, and refused machines never joined")
	specKataTDX     = spec("a Kata pod on a TDX node is attested when it starts")
	specKataSNP     = spec("a Kata pod on an SEV-SNP node is attested when it starts")
)

var _ = Describe("Attestation gating", framework.Label("attestation"), func() {
	var ns string
	BeforeEach(func(ctx SpecContext) { ns = framework.CreateNamespace(ctx, c.Tenant, "attestation") })
	JustAfterEach(func(ctx SpecContext) { framework.Diagnose(ctx, c, ns) })

	It(specGateRefuses, framework.Label("host-access", "tee:tdx"), func(ctx SpecContext) {
		if c.HostDyn == nil {
			Skip("needs --host-kubeconfig: NodeClaims live in the host cluster")
		}
		// Demand two TDX nodes so the platform provisions (and gates) machines.
		for i := 0; i < 2; i++ {
			createPod(ctx, ns, podSpec{name: fmt.Sprintf("tdx-%d", i), antiAffinity: "gate", selector: map[string]string{"confidential-compute": "tdx"}})
		}
		for i := 0; i < 2; i++ {
			waitRunning(ctx, ns, fmt.Sprintf("tdx-%d", i), 45e9)
		}
		nodes, err := c.Tenant.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			Fail(err.Error())
		}
		claims := map[string]*mgmt.NodeClaim{}
		list, err := c.HostDyn.Resource(mgmt.NodeClaimResource).List(ctx, metav1.ListOptions{})
		if err != nil {
			Fail("list NodeClaims in the host: " + err.Error())
		}
		for i := range list.Items {
			if nc, err := mgmt.NodeClaimFrom(&list.Items[i]); err == nil {
				claims[nc.Name] = nc
			}
		}
		var bad []string
		for _, n := range nodes.Items {
			if !mgmt.IsConfidential(n.Labels) {
				continue
			}
			nc := claims[n.Labels["vcluster.com/node-claim"]]
			if nc == nil {
				bad = append(bad, fmt.Sprintf("node %s has no NodeClaim", n.Name))
				continue
			}
			if joined := condition(nc, mgmt.ConditionJoined); joined == nil || joined.Reason != "Attested" {
				bad = append(bad, fmt.Sprintf("node %s joined without a passing attestation (NodeClaim %s: %s)", n.Name, nc.Name, describe(joined)))
			}
		}
		for _, nc := range claims {
			if nc.Status.Phase == mgmt.PhaseFailed {
				for _, n := range nodes.Items {
					if n.Name == nc.Name {
						bad = append(bad, fmt.Sprintf("NodeClaim %s failed (%s) but its node is in the tenant", nc.Name, nc.Status.Message))
					}
				}
			}
		}
		if len(bad) > 0 {
			Fail(strings.Join(bad, "; "))
		}
	})

	kataSpec := func(name, tee, runtimeClass string) func(SpecContext) {
		return func(ctx SpecContext) {
			createPod(ctx, ns, podSpec{name: name, runtimeClass: runtimeClass, selector: map[string]string{"confidential-compute": tee}})
			pod := waitRunning(ctx, ns, name, 45e9)
			evs := events(ctx, ns, name, "Attested")
			if len(evs) == 0 {
				Fail(fmt.Sprintf("pod %s runs on %s without an Attested event: it started without verified evidence", name, pod.Spec.NodeName))
			}
			n := node(ctx, pod.Spec.NodeName)
			expectLabels(n, map[string]string{"confidential-compute": tee})
			verifyPodEvidence(ctx, pod, n.Labels[mgmt.PropertyNodeType], tee, evs[0].Message)
		}
	}
	It(specKataTDX, framework.Label("tee:tdx"), kataSpec("kata-tdx", "tdx", "kata-qemu-tdx"))
	It(specKataSNP, framework.Label("tee:snp"), kataSpec("kata-snp", "sev-snp", "kata-qemu-snp"))
})

func condition(nc *mgmt.NodeClaim, t string) *mgmt.Condition {
	for i := range nc.Status.Conditions {
		if nc.Status.Conditions[i].Type == t {
			return &nc.Status.Conditions[i]
		}
	}
	return nil
}

func describe(c *mgmt.Condition) string {
	if c == nil {
		return "no Joined condition"
	}
	return fmt.Sprintf("Joined=%s reason %s: %s", c.Status, c.Reason, c.Message)
}

var _ = corev1.PodRunning

// verifyPodEvidence reads the verdict the Attested event names from the
// attestation service and checks it is this pod's: bound to its UID, and
// evidence the spec's own verifier accepts under the run's policy. The
// evidence goes into the report.
func verifyPodEvidence(ctx context.Context, pod *corev1.Pod, nodeType, tee, event string) {
	GinkgoHelper()
	f := strings.Fields(strings.TrimPrefix(event, "Pod sandbox attested: verdict "))
	if len(f) == 0 || !strings.HasPrefix(event, "Pod sandbox attested: verdict ") {
		Fail(fmt.Sprintf("pod %s: the Attested event names no verdict: %q", pod.Name, event))
	}
	pol := framework.Policy()
	if pol == nil {
		Fail("no attestation policy for this run: give cctest run --policy")
	}
	svc := attestationService(ctx)
	defer svc.Close()
	rec, err := svc.Verdict(ctx, f[0])
	if err != nil {
		Fail(fmt.Sprintf("pod %s: verdict %s from the attestation service: %v", pod.Name, f[0], err))
	}
	if want := "pod:" + string(pod.UID); rec.Context != want {
		Fail(fmt.Sprintf("pod %s: verdict %s is bound to %q, not to this pod (%s)", pod.Name, rec.ID, rec.Context, want))
	}
	if rec.Evidence == nil {
		Fail(fmt.Sprintf("pod %s: verdict %s carries no evidence to check", pod.Name, rec.ID))
	}
	nonce, err := hex.DecodeString(rec.Nonce)
	if err != nil {
		Fail(fmt.Sprintf("pod %s: verdict %s nonce %q: %v", pod.Name, rec.ID, rec.Nonce, err))
	}
	rd := verifier.BindReportData(nonce, rec.Context)
	v := verifier.New(verifier.Options{}).Verify(*rec.Evidence, pol, rd[:])
	AddReportEntry(reports.EvidenceEntry, reports.Evidence{Subject: pod.Namespace + "/" + pod.Name, Kind: "pod", NodeType: nodeType,
		TEE: tee, Nonce: rec.Nonce, Raw: rec.Evidence.Raw, Verdict: v})
	if !v.Pass {
		Fail(fmt.Sprintf("pod %s started on evidence the spec's own verification rejects: %s", pod.Name, v.Reason))
	}
	if v.TEE != tee {
		Fail(fmt.Sprintf("pod %s asked for %s but its evidence is %s", pod.Name, tee, v.TEE))
	}
}
