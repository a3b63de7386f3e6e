package reports

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

func TestLoadRealRuns(t *testing.T) {
	for _, tc := range []struct {
		file   string
		pass   bool
		counts string
	}{
		{"testdata/pass.json", true, "22 passed"},
		{"testdata/tampered-quote.json", false, "13 failed, 9 passed"},
	} {
		s := Summarize(mustLoad(t, tc.file))
		var got []string
		for _, c := range s.Counts {
			got = append(got, fmt.Sprintf("%d %s", c.N, c.State))
		}
		if s.Pass != tc.pass || strings.Join(got, ", ") != tc.counts || s.Specs != 22 || s.Ran != 22 {
			t.Errorf("%s: pass=%v counts=%q specs=%d ran=%d reasons=%q", tc.file, s.Pass, got, s.Specs, s.Ran, s.Reasons)
		}
	}
}

func TestLoadRejectsWhatIsNotAGinkgoReport(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"empty.json":     "",
		"blank.json":     "  \n\t",
		"object.json":    `{}`,
		"emptyarr.json":  `[]`,
		"zero.json":      `[{}]`,
		"numbers.json":   `[1,2,3]`,
		"truncated.json": `[{"SuitePath":"/x","SpecReports":[{"State":"pas`,
		"junit.xml":      `<?xml version="1.0"?><testsuites></testsuites>`,
		"badentry.json":  `[{"SuiteDescription":"x","SpecReports":[{"ReportEntries":[{"Name":"e","Value":{"AsJSON":"{"}}]}]}]`,
	}
	for name, body := range cases {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(p)
		if err == nil {
			t.Errorf("%s: loaded", name)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, p) || !(strings.Contains(msg, "not a Ginkgo JSON report") || strings.Contains(msg, "empty file")) {
			t.Errorf("%s: unclear error %q", name, msg)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: %v", err)
	}
}

func TestLoadAcceptsASingleObjectAndMergesSuites(t *testing.T) {
	b, err := os.ReadFile("testdata/pass.json")
	if err != nil {
		t.Fatal(err)
	}
	obj := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(string(b)), "["), "]")
	r, err := Decode(strings.NewReader(obj))
	if err != nil || Summarize(r).Specs != 22 {
		t.Fatalf("object: %v", err)
	}
	two := "[" + obj + "," + obj + "]"
	r, err = Decode(strings.NewReader(two))
	if err != nil {
		t.Fatal(err)
	}
	if s := Summarize(r); s.Specs != 44 || s.Planned != 44 || !s.Pass {
		t.Fatalf("merged: %+v", s)
	}
}

func TestEvidenceOfTheRealRunInTheLegacyShape(t *testing.T) {
	recs := EvidenceRecords(mustLoad(t, "testdata/pass.json"))
	if len(recs) != 5 {
		t.Fatalf("%d evidence records, want 5 (2 TDX, 3 SNP nodes)", len(recs))
	}
	for _, r := range recs {
		if !r.Legacy || r.Kind != "node" || !strings.HasPrefix(r.Subject, "confidential-workers-") && !strings.HasPrefix(r.Subject, "snp-workers-") ||
			r.TEE == "" || !r.Verdict.Pass || len(r.Verdict.Checks) == 0 || !strings.Contains(r.Spec, "re-attested") || r.Location != "suites/reattest.go:96" {
			t.Errorf("record %+v", r)
		}
	}
}

func TestEntriesDecodeInMemoryAndFromDisk(t *testing.T) {
	live := synthetic(8)
	for name, r := range map[string]types.Report{"in memory": live, "from disk": roundTrip(t, live)} {
		recs := EvidenceRecords(r)
		if len(recs) != 6 { // specs 0 and 4: two each; specs 1 and 5: one legacy each
			t.Fatalf("%s: %d records", name, len(recs))
		}
		if recs[0].Subject != "tdx-0" || recs[0].NodeType != "tdx-large" || string(recs[0].Raw) != "quote bytes" || recs[0].Nonce != "00ff" || recs[0].Legacy {
			t.Errorf("%s: new shape decoded as %+v", name, recs[0])
		}
		if recs[1].Kind != "pod" || recs[1].Verdict.Pass {
			t.Errorf("%s: failing pod evidence decoded as %+v", name, recs[1])
		}
		if recs[2].Subject != "snp-1" || !recs[2].Legacy || recs[2].TEE != "sev-snp" {
			t.Errorf("%s: legacy decoded as %+v", name, recs[2])
		}
		env, ok := EnvironmentOf(r)
		if !ok || env.KubernetesVersion != "v1.37.2" || len(env.TEETypes) != 2 || env.Faults[0] != "tampered-quote" {
			t.Errorf("%s: environment %+v %v", name, env, ok)
		}
	}
	if _, ok := EnvironmentOf(mustLoad(t, "testdata/pass.json")); ok {
		t.Error("the real run has no environment entry yet")
	}
}

func TestSummaryFailsWhenPlannedSpecsDidNotRun(t *testing.T) {
	r := synthetic(4)
	r.SuiteSucceeded = true
	r.SpecReports[3].State = types.SpecStatePassed // spec 2 failed; make it pass
	r.SpecReports[3].Failure = types.Failure{}
	if s := Summarize(r); !s.Pass {
		t.Fatalf("baseline fails: %q", s.Reasons)
	}
	r.PreRunStats.SpecsThatWillRun = 5
	if s := Summarize(r); s.Pass || !strings.Contains(strings.Join(s.Reasons, ";"), "planned 5 specs but 4 ran") {
		t.Fatalf("missing spec not caught: %+v", s)
	}
}

func FuzzDecode(f *testing.F) {
	b, err := os.ReadFile("testdata/pass.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b[:2000])
	f.Add([]byte(`[{"SuiteDescription":"x","SpecReports":[{"LeafNodeType":"It","State":"failed","ReportEntries":[{"Name":"evidence","Value":{"AsJSON":"{\"subject\":1}"}}]}]}]`))
	f.Add([]byte(`[{"SpecReports":[{"ReportEntries":[{"Name":"evidence x","Value":{"AsJSON":"{\"checks\":null}"}}]}]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		// Whatever decodes must render.
		var sink strings.Builder
		if err := WriteHTML(&sink, r); err != nil {
			t.Fatal(err)
		}
		if err := WriteJUnit(&sink, r); err != nil {
			t.Fatal(err)
		}
	})
}
