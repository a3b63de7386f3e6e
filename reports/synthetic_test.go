package reports

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/cctest/cctest/attest/verifier"
)

// xss is what a hostile cluster could put into event messages, names and
// termination messages.
const xss = `<script>window.__pwned=1</script>`

// xssImg runs code through an attribute if it ever lands unescaped.
const xssImg = `<img src=x onerror="window.__pwned=2">`

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func entry(name string, v any, at time.Time, order int) types.ReportEntry {
	return types.ReportEntry{
		Name:             name,
		Value:            types.WrapEntryValue(v),
		Time:             at,
		TimelineLocation: types.TimelineLocation{Order: order, Time: at},
		Location:         types.CodeLocation{FileName: "/src/cctest/suites/reattest.go", LineNumber: 96},
	}
}

func verdict(tee string, pass bool) verifier.Verdict {
	v := verifier.Verdict{
		TEE: tee, Pass: pass, Policy: "platform-simulated",
		Measurement: "a371c8f5bf90410e83d324bb7d5b649c2ba6f6f9503c7a4a9845b298aed508813f2e1c33ea168819e2dfdf5d40a77403",
		TCB:         "0300050000000000", TrustRoot: "cctest simulated Intel SGX Root CA (TEST ONLY)", Simulated: true,
		Checks: []verifier.Check{
			{Name: "verify", Expected: "quote signature", Measured: "valid", Pass: true},
			{Name: "nonce", Expected: "00ff", Measured: "00ff", Pass: true},
		},
	}
	if !pass {
		v.Reason = "measurement: matches no allowed measurement"
		v.Checks = append(v.Checks, verifier.Check{Name: "measurement", Expected: "one of [cctest-sim-td-v1]", Measured: "mrtd 2f2a…", Detail: "matches no allowed measurement"})
	} else {
		v.Checks = append(v.Checks, verifier.Check{Name: "measurement", Expected: "one of [cctest-sim-td-v1]", Measured: "mrtd a371…", Pass: true})
	}
	return v
}

// synthetic builds a report of n specs (n >= 4): an environment entry from
// the BeforeSuite, evidence in the new and the legacy shape, and cluster
// strings carrying markup in every place they can appear.
func synthetic(n int) types.Report {
	r := types.Report{
		SuitePath:        "/src/cctest",
		SuiteDescription: "cctest",
		SuiteSucceeded:   false,
		StartTime:        t0,
		PreRunStats:      types.PreRunStats{TotalSpecs: n, SpecsThatWillRun: n},
		SuiteConfig:      types.SuiteConfig{RandomSeed: 1, Timeout: 30 * time.Minute},
	}
	r.SpecReports = append(r.SpecReports, types.SpecReport{
		LeafNodeType:     types.NodeTypeBeforeSuite,
		LeafNodeLocation: types.CodeLocation{FileName: "/src/cctest/suites/suites.go", LineNumber: 26},
		State:            types.SpecStatePassed,
		StartTime:        t0, EndTime: t0.Add(time.Millisecond), RunTime: time.Millisecond,
		ReportEntries: types.ReportEntries{entry(EnvironmentEntry, Environment{
			Kind: "embedded", KubernetesVersion: "v1.37.2", CctestVersion: "v0.7.0-test",
			TEETypes: []string{"tdx", "sev-snp"}, PolicyName: "platform-simulated",
			PolicyYAML: "name: platform-simulated\n# </pre>" + xss + "\n",
			Faults:     []string{"tampered-quote"}, Tenant: "https://127.0.0.1:40001", Host: "https://127.0.0.1:40002",
		}, t0, 1)},
	})
	at := t0.Add(time.Millisecond)
	groups := []struct {
		container string
		labels    []string
	}{
		{"Attestation of running nodes", []string{"attestation", "tee:tdx"}},
		{"Auto nodes", []string{"auto-nodes", "node-types"}},
		{"Egress " + xssImg, []string{"egress"}},
		{"Scheduling", []string{"scheduling", "tee:snp"}},
	}
	for i := 0; i < n; i++ {
		g := groups[i%len(groups)]
		d := time.Duration(10+i%7*15) * time.Millisecond
		s := types.SpecReport{
			ContainerHierarchyTexts:     []string{g.container},
			ContainerHierarchyLabels:    [][]string{g.labels},
			ContainerHierarchyLocations: []types.CodeLocation{{FileName: "/src/cctest/suites/x.go", LineNumber: 10}},
			LeafNodeType:                types.NodeTypeIt,
			LeafNodeLocation:            types.CodeLocation{FileName: "/src/cctest/suites/x.go", LineNumber: 20 + i},
			LeafNodeText:                fmt.Sprintf("spec %d gets a tdx-large node", i),
			State:                       types.SpecStatePassed,
			StartTime:                   at, EndTime: at.Add(d), RunTime: d,
			NumAttempts: 1,
			SpecEvents: types.SpecEvents{
				{SpecEventType: types.SpecEventNodeStart, NodeType: types.NodeTypeIt, Message: "spec", TimelineLocation: types.TimelineLocation{Order: 2, Time: at}},
				{SpecEventType: types.SpecEventByStart, Message: "probe " + xss, TimelineLocation: types.TimelineLocation{Order: 3, Time: at.Add(d / 3)}},
				{SpecEventType: types.SpecEventNodeEnd, NodeType: types.NodeTypeIt, Message: "spec", Duration: d, TimelineLocation: types.TimelineLocation{Order: 9, Time: at.Add(d)}},
			},
		}
		switch i % 4 {
		case 0: // evidence in the new shape, one passing and one failing node
			s.ReportEntries = append(s.ReportEntries,
				entry(EvidenceEntry, Evidence{Subject: fmt.Sprintf("tdx-%d", i), Kind: "node", NodeType: "tdx-large", TEE: "tdx", Nonce: "00ff", Raw: []byte("quote bytes"), Verdict: verdict("tdx", true)}, at, 4),
				entry(EvidenceEntry, Evidence{Subject: "node/" + xss, Kind: "pod", NodeType: "tdx-large", TEE: "tdx", Nonce: "00ff", Raw: []byte{1, 2, 3}, Verdict: verdict("tdx", false)}, at, 5),
			)
		case 1: // legacy evidence: a bare verdict named after the node
			s.ReportEntries = append(s.ReportEntries, entry("evidence snp-"+fmt.Sprint(i), verdict("sev-snp", true), at, 4))
		case 2: // a failure with cluster text everywhere
			s.State = types.SpecStateFailed
			s.Failure = types.Failure{
				Message:          "pod did not run: event FailedScheduling: " + xss + " see http://evil.example/x.js",
				Location:         types.CodeLocation{FileName: "/src/cctest/suites/egress.go", LineNumber: 53, FullStackTrace: "goroutine 1\n" + xssImg},
				TimelineLocation: types.TimelineLocation{Order: 6, Time: at.Add(d / 2)},
				FailureNodeType:  types.NodeTypeIt,
			}
			s.ReportEntries = append(s.ReportEntries, types.ReportEntry{
				Name: DiagnosticsEntry, Value: types.WrapEntryValue("events in ns:\n  Warning Pod/x Failed: " + xss + "\n"),
				Visibility: types.ReportEntryVisibilityFailureOrVerbose, Time: at, TimelineLocation: types.TimelineLocation{Order: 7, Time: at},
			})
		case 3:
			if i%8 == 3 {
				s.State = types.SpecStateSkipped
				s.Failure = types.Failure{Message: "no SEV-SNP nodes in this environment"}
			}
		}
		r.SpecReports = append(r.SpecReports, s)
		at = at.Add(d + time.Millisecond)
	}
	r.EndTime = at
	r.RunTime = at.Sub(t0)
	return r
}

// roundTrip encodes and decodes the report the way it reaches disk.
func roundTrip(t testing.TB, r types.Report) types.Report {
	t.Helper()
	var b bytes.Buffer
	if err := encodeJSONReport(&b, r); err != nil {
		t.Fatal(err)
	}
	out, err := Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustLoad(t testing.TB, path string) types.Report {
	t.Helper()
	r, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
