package reports

import (
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

// Two runs: the new one has a spec that failed and an snp node type whose
// node reported another measurement. The diff names both, and a run
// compared with itself has no differences.
func TestCompareNamesChangedSpecsAndMeasurements(t *testing.T) {
	old := synthetic(8)
	if d := Compare(old, old); !d.Empty() {
		t.Fatalf("a run differs from itself: %v", d.Lines())
	}
	new := synthetic(8)
	var changedSpec string
	for i, s := range new.SpecReports {
		if s.LeafNodeType == types.NodeTypeIt && s.State == types.SpecStatePassed && changedSpec == "" {
			new.SpecReports[i].State = types.SpecStateFailed
			changedSpec = s.FullText()
		}
	}
	sn := entry(EvidenceEntry, Evidence{Subject: "snp-0", Kind: "node", NodeType: "snp-large", TEE: "sev-snp", Nonce: "00", Raw: []byte{1}, Verdict: verdict("sev-snp", true)}, t0, 9)
	new.SpecReports[len(new.SpecReports)-1].ReportEntries = append(new.SpecReports[len(new.SpecReports)-1].ReportEntries, sn)
	lines := strings.Join(Compare(old, new).Lines(), "\n")
	for _, want := range []string{"spec " + changedSpec + ": passed → failed", "node type snp-large: verdict (absent) → pass"} {
		if !strings.Contains(lines, want) {
			t.Errorf("diff lacks %q:\n%s", want, lines)
		}
	}
}

// With a baseline the page has a section of what changed (or says nothing
// did); without one it has none.
func TestPageShowsChangesSinceTheBaseline(t *testing.T) {
	old, new := synthetic(8), synthetic(8)
	for i, s := range new.SpecReports {
		if s.LeafNodeType == types.NodeTypeIt && s.State == types.SpecStatePassed {
			new.SpecReports[i].State = types.SpecStateFailed
			break
		}
	}
	page := func(r types.Report, opts ...Option) string {
		var b strings.Builder
		if err := WriteHTML(&b, r, opts...); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	if p := page(new, WithBaseline(old)); !strings.Contains(p, "Changes since the baseline") || !strings.Contains(p, "passed → failed") {
		t.Error("the page lacks the change since the baseline")
	}
	if p := page(old, WithBaseline(old)); !strings.Contains(p, "Nothing changed") {
		t.Error("the page of an unchanged run does not say nothing changed")
	}
	if p := page(new); strings.Contains(p, "Changes since the baseline") {
		t.Error("a page without a baseline shows a baseline section")
	}
}
