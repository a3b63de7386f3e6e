package reports

import (
	"fmt"
	"sort"
	"strings"

	"github.com/onsi/ginkgo/v2/types"
)

// Diff is what changed between two runs: specs whose outcome changed, and
// per node type the verdict and the measurements its nodes reported.
type Diff struct {
	Specs     []Change `json:"specs,omitempty"`
	NodeTypes []Change `json:"nodeTypes,omitempty"`
}

// Change is one difference, old → new ("" = absent on that side).
type Change struct {
	Subject string `json:"subject"`
	What    string `json:"what"`
	Old     string `json:"old"`
	New     string `json:"new"`
}

// Empty says whether the runs agree.
func (d Diff) Empty() bool { return len(d.Specs) == 0 && len(d.NodeTypes) == 0 }

// Compare diffs two runs' reports.
func Compare(old, new types.Report) Diff {
	var d Diff
	os, ns := specStatuses(old), specStatuses(new)
	for _, name := range unionKeys(os, ns) {
		if os[name] != ns[name] {
			d.Specs = append(d.Specs, Change{Subject: name, What: "outcome", Old: os[name], New: ns[name]})
		}
	}
	ot, nt := nodeTypeFacts(old), nodeTypeFacts(new)
	for _, name := range unionKeys(ot, nt) {
		o, n := ot[name], nt[name]
		for _, what := range []string{"verdict", "measurements", "TCB"} {
			if o[what] != n[what] {
				d.NodeTypes = append(d.NodeTypes, Change{Subject: name, What: what, Old: o[what], New: n[what]})
			}
		}
	}
	return d
}

// Lines renders the diff for a terminal.
func (d Diff) Lines() []string {
	var out []string
	show := func(s string) string {
		if s == "" {
			return "(absent)"
		}
		return s
	}
	for _, c := range d.NodeTypes {
		out = append(out, fmt.Sprintf("node type %s: %s %s → %s", c.Subject, c.What, show(c.Old), show(c.New)))
	}
	for _, c := range d.Specs {
		out = append(out, fmt.Sprintf("spec %s: %s → %s", c.Subject, show(c.Old), show(c.New)))
	}
	return out
}

func specStatuses(r types.Report) map[string]string {
	out := map[string]string{}
	for _, s := range r.SpecReports {
		if s.LeafNodeType == types.NodeTypeIt {
			out[s.FullText()] = Status(s)
		}
	}
	return out
}

// nodeTypeFacts sums up each node type's evidence: pass only when every
// piece passed, and the sets of measurements and TCBs its nodes reported.
func nodeTypeFacts(r types.Report) map[string]map[string]string {
	sets := map[string]map[string]map[string]bool{}
	pass := map[string]bool{}
	for _, e := range EvidenceRecords(r) {
		nt := e.NodeType
		if nt == "" {
			nt = "(not recorded)"
		}
		if sets[nt] == nil {
			sets[nt] = map[string]map[string]bool{"measurements": {}, "TCB": {}}
			pass[nt] = true
		}
		pass[nt] = pass[nt] && e.Verdict.Pass
		if e.Verdict.Measurement != "" {
			sets[nt]["measurements"][e.Verdict.Measurement] = true
		}
		if e.Verdict.TCB != "" {
			sets[nt]["TCB"][e.Verdict.TCB] = true
		}
	}
	out := map[string]map[string]string{}
	for nt, s := range sets {
		v := "pass"
		if !pass[nt] {
			v = "FAIL"
		}
		out[nt] = map[string]string{"verdict": v, "measurements": strings.Join(sortedKeys(s["measurements"]), ", "), "TCB": strings.Join(sortedKeys(s["TCB"]), ", ")}
	}
	return out
}

func unionKeys[V any](a, b map[string]V) []string {
	seen := map[string]bool{}
	for k := range a {
		seen[k] = true
	}
	for k := range b {
		seen[k] = true
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
