package reports

import (
	"bytes"
	"encoding/xml"
	"sort"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

func junitOf(t *testing.T, r types.Report) (junitSuites, string) {
	t.Helper()
	var b bytes.Buffer
	if err := WriteJUnit(&b, r); err != nil {
		t.Fatal(err)
	}
	var out junitSuites
	if err := xml.Unmarshal(b.Bytes(), &out); err != nil {
		t.Fatalf("not XML: %v\n%s", err, b.String())
	}
	return out, b.String()
}

func cases(s junitSuites) []junitCase {
	var out []junitCase
	for _, su := range s.Suites {
		out = append(out, su.Cases...)
	}
	return out
}

func TestJUnitOfTheFailingRun(t *testing.T) {
	j, _ := junitOf(t, mustLoad(t, "testdata/tampered-quote.json"))
	if j.Tests != 22 || j.Failures != 13 || j.Errors != 0 || j.Skipped != 0 {
		t.Fatalf("totals: tests=%d failures=%d errors=%d skipped=%d", j.Tests, j.Failures, j.Errors, j.Skipped)
	}
	sum := 0
	for _, s := range j.Suites {
		sum += s.Tests
		if s.Name == "" || strings.Contains(s.Name, "[") {
			t.Errorf("suite name %q", s.Name)
		}
	}
	if sum != 22 {
		t.Errorf("suites hold %d tests", sum)
	}
	var egress *junitCase
	for _, c := range cases(j) {
		c := c
		if strings.HasPrefix(c.Name, "with the reference NetworkPolicies") {
			egress = &c
		}
	}
	if egress == nil {
		t.Fatal("egress spec missing")
	}
	if egress.Classname != "cctest.Egress from confidential nodes" || egress.File != "suites/egress.go" || egress.Line == 0 {
		t.Errorf("identity: %+v", egress)
	}
	f := egress.Failure
	if f == nil || !strings.HasPrefix(f.Message, "probe egress-") || f.Type != "failed" || !strings.Contains(f.Text, "at suites/egress.go:53") {
		t.Fatalf("failure: %+v", f)
	}
	if !strings.Contains(egress.SystemOut, "events in egress-") {
		t.Errorf("diagnostics not in system-out: %q", egress.SystemOut)
	}
	if egress.Properties == nil || !hasProp(egress.Properties, "label", "egress") || !hasProp(egress.Properties, "label", "tee:tdx") {
		t.Errorf("labels: %+v", egress.Properties)
	}
}

func hasProp(p *junitProperties, name, value string) bool {
	for _, x := range p.Property {
		if x.Name == name && x.Value == value {
			return true
		}
	}
	return false
}

// Names identify tests across runs: a passing and a failing run of the
// same specs give the same (classname, name) pairs, with no labels, node
// types or timings in them.
func TestJUnitNamesAreStable(t *testing.T) {
	ids := func(file string) []string {
		j, _ := junitOf(t, mustLoad(t, file))
		var out []string
		for _, c := range cases(j) {
			if strings.ContainsAny(c.Name, "[]") && !strings.Contains(c.Name, "In [") {
				t.Errorf("name carries labels or node type: %q", c.Name)
			}
			out = append(out, c.Classname+" / "+c.Name)
		}
		sort.Strings(out)
		return out
	}
	a, b := ids("testdata/pass.json"), ids("testdata/tampered-quote.json")
	if strings.Join(a, "\n") != strings.Join(b, "\n") || len(a) != 22 {
		t.Fatalf("names differ between runs:\n%s\n---\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	seen := map[string]bool{}
	for _, id := range a {
		if seen[id] {
			t.Errorf("duplicate test id %q", id)
		}
		seen[id] = true
	}
}

func TestJUnitSkippedPendingPanickedAndSetupFailures(t *testing.T) {
	r := synthetic(8)
	r.SpecReports[2].State = types.SpecStatePending
	r.SpecReports[6].State = types.SpecStatePanicked
	r.SpecReports[6].Failure = types.Failure{Message: "Test Panicked", ForwardedPanic: "runtime error: index out of range", Location: types.CodeLocation{FileName: "/src/cctest/suites/x.go", LineNumber: 7}}
	r.SpecReports = append(r.SpecReports, types.SpecReport{LeafNodeType: types.NodeTypeAfterSuite, State: types.SpecStateFailed,
		Failure: types.Failure{Message: "cleanup failed", Location: types.CodeLocation{FileName: "/src/cctest/suites/suites.go", LineNumber: 40}}})
	j, raw := junitOf(t, roundTrip(t, r))
	byName := map[string]junitCase{}
	for _, c := range cases(j) {
		byName[c.Name] = c
	}
	if c := byName["spec 1 gets a tdx-large node"]; c.Skipped == nil || c.Skipped.Message != "pending" {
		t.Errorf("pending: %+v", c)
	}
	if c := byName["spec 3 gets a tdx-large node"]; c.Skipped == nil || c.Skipped.Message != "skipped: no SEV-SNP nodes in this environment" {
		t.Errorf("skipped: %+v", c)
	}
	if c := byName["spec 5 gets a tdx-large node"]; c.Error == nil || c.Error.Type != "panicked" || !strings.Contains(c.Error.Message, "index out of range") {
		t.Errorf("panicked: %+v", c)
	}
	if c, ok := byName["[AfterSuite]"]; !ok || c.Failure == nil || c.Classname != "cctest" {
		t.Errorf("failed AfterSuite: %+v", c)
	}
	if _, ok := byName["[BeforeSuite]"]; ok {
		t.Error("a passing BeforeSuite is not a test case")
	}
	if c := byName["spec 0 gets a tdx-large node"]; c.Properties == nil || !hasProp(c.Properties, "evidence", "PASS node tdx-0 (tdx-large) tdx") {
		t.Errorf("evidence property: %+v", c.Properties)
	}
	if j.Skipped != 2 || j.Errors != 1 || j.Failures != 3 {
		t.Errorf("totals skipped=%d errors=%d failures=%d", j.Skipped, j.Errors, j.Failures)
	}
	if strings.Contains(raw, "<script>") {
		t.Error("markup from the cluster is not escaped in the XML")
	}
}

// A pass after failed attempts is a flakyFailure with status "flaky", and
// the summary counts it apart from the passes.
func TestJUnitAndSummaryReportFlakySpecs(t *testing.T) {
	r := withOneFlaky(t, mustLoad(t, "testdata/tampered-quote.json"))
	out, _ := junitOf(t, r)
	flaky := 0
	for _, c := range cases(out) {
		if c.Status == StatusFlaky {
			flaky++
			if c.FlakyFailure == nil || c.FlakyFailure.Message != "passed on attempt 2 of 3" || c.Failure != nil {
				t.Errorf("flaky case %q: flakyFailure %+v, failure %+v", c.Name, c.FlakyFailure, c.Failure)
			}
		} else if c.FlakyFailure != nil {
			t.Errorf("case %q (%s) has a flakyFailure", c.Name, c.Status)
		}
	}
	if flaky != 1 {
		t.Errorf("%d flaky cases, want 1", flaky)
	}
	counts := map[string]int{}
	for _, c := range Summarize(r).Counts {
		counts[c.State] = c.N
	}
	if counts[StatusFlaky] != 1 || counts["passed"] != expected(r, "", "passed")-1 {
		t.Errorf("summary counts %v", counts)
	}
}
