package suites

import (
	"context"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/attest/floor"
	"github.com/cctest/cctest/attest/gatetrace"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/reports"
)

// gatedNode is a confidential tenant node and what its gate trace shows.
type gatedNode struct {
	name     string
	nodeType string
	trace    *gatetrace.Trace  // nil: no readable trace
	verdict  *verifier.Verdict // the spec's own verification of the trace's evidence
	problem  string            // why the node's admission is not proven ("" = proven)
}

// gatedNodes reads the gate trace of every cloud Confidential VM tenant node
// (bare-metal Kata hosts are no TEE guests: they have no evidence; see
// baremetal.go) and verifies its
// evidence with the spec's own verifier under the run's policy, bound to the
// node's name. Nothing the gate concluded is trusted. The evidence goes into
// the report.
func (s *suite) gatedNodes(ctx context.Context) []gatedNode {
	GinkgoHelper()
	Expect(s.Policy).NotTo(BeNil(), "no attestation policy for this run: give cctest run --policy")
	nodes, err := s.c.Tenant.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	Expect(err).NotTo(HaveOccurred(), "list tenant nodes")
	var out []gatedNode
	for _, n := range nodes.Items {
		tee, ok := n.Labels[mgmt.PropertyConfidentialCompute]
		if !ok || s.confidentialPath(ctx, &n) != mgmt.PathCloudVM {
			continue
		}
		g := gatedNode{name: n.Name, nodeType: n.Labels[mgmt.PropertyNodeType]}
		out = append(out, g)
		last := &out[len(out)-1]
		raw, ok := n.Annotations[gatetrace.Annotation]
		if !ok {
			last.problem = fmt.Sprintf("node %s has no gate trace (annotation %s): it joined without `cctest gate`", n.Name, gatetrace.Annotation)
			continue
		}
		t, err := gatetrace.Decode(raw)
		if err != nil {
			last.problem = fmt.Sprintf("node %s: unreadable gate trace: %v", n.Name, err)
			continue
		}
		last.trace = &t
		if t.Node() != n.Name {
			last.problem = fmt.Sprintf("node %s carries the gate trace of node %q", n.Name, t.Node())
			continue
		}
		rd, err := t.ReportData()
		if err != nil {
			last.problem = fmt.Sprintf("node %s: %v", n.Name, err)
			continue
		}
		v := s.Verifier.Verify(t.Evidence, s.Policy, rd[:])
		last.verdict = &v
		AddReportEntry(reports.EvidenceEntry, reports.Evidence{Subject: n.Name, Kind: "node", NodeType: last.nodeType,
			TEE: tee, Nonce: t.Nonce, Raw: t.Evidence.Raw, Verdict: v})
		// The floor holds even when the shared verifier is wrong.
		fl := floor.Check(tee, t.Evidence.Raw, rd[:])
		switch {
		case !t.Pass:
			last.problem = fmt.Sprintf("node %s joined although its gate refused it", n.Name)
		case fl != nil:
			last.problem = fmt.Sprintf("node %s joined on evidence below the floor: %v", n.Name, fl)
		case !v.Pass:
			last.problem = fmt.Sprintf("node %s joined on evidence the spec's verification rejects: %s", n.Name, v.Reason)
		}
	}
	return out
}

// machineIdentity is the hardware identity evidence carries: the TDX
// platform's PPID (from the PCK certificate), the SEV-SNP CHIP_ID. "" when
// the evidence carries none (an all-zero CHIP_ID, as on AWS VLEK reports).
func machineIdentity(v *verifier.Verdict) string {
	if v == nil {
		return ""
	}
	if v.PPID != "" {
		return "PPID " + v.PPID
	}
	if strings.Trim(v.ChipID, "0") != "" {
		return "CHIP_ID " + v.ChipID
	}
	return ""
}
