package reports

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

func htmlOf(t testing.TB, r types.Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func mustContain(t *testing.T, page string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(page, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func TestHTMLOfThePassingRun(t *testing.T) {
	page := htmlOf(t, mustLoad(t, "testdata/pass.json"))
	mustContain(t, page,
		`<div class="verdict" id="verdict">PASS</div>`,
		`data-status="passed"`, ">22 passed</button>",
		// every spec, with its labels for the filter
		"every confidential node is re-attested by a probe with the spec&#39;s own nonce",
		`data-labels="[&#34;attestation&#34;,&#34;tee:tdx&#34;,&#34;tee:snp&#34;]"`,
		`<option value="node-types">node-types</option>`,
		// evidence per node: measurement, TCB, trust root, checks
		"confidential-workers-cstbj", "snp-workers-42mls",
		"cctest simulated Intel SGX Root CA (TEST ONLY)", "cctest simulated AMD ARK/ASK (TEST ONLY)",
		"allowlist entry cctest-sim-td-v1", "<td>tee-allowed</td>", "<td>nonce</td>",
		// certification and the node-types specs
		`id="certification"`, "5 passed, 0 failed",
		// the environment section degrades gracefully without an entry
		"recorded no environment", "random seed",
		// the timing chart
		`<svg class="chart"`, "<rect ",
	)
	if n := strings.Count(page, `<tr class="spec `); n != 22 {
		t.Errorf("%d spec rows", n)
	}
	if n := strings.Count(page, `<article class="evidence `); n != 5 {
		t.Errorf("%d evidence articles", n)
	}
}

func TestHTMLOfTheFailingRun(t *testing.T) {
	page := htmlOf(t, mustLoad(t, "testdata/tampered-quote.json"))
	mustContain(t, page,
		`<div class="verdict" id="verdict">FAIL</div>`, "13 of 22 specs failed",
		">13 failed</button>", ">9 passed</button>",
		"failed at <code>suites/egress.go:53</code>",
		"probe egress-x6rfw/to-attestation did not run",
		"<h4>Diagnostics</h4>", "host NodeClaims:",
		"verify: unable to verify message digest using quote&#39;s signature",
		"timeline (", "No attestation evidence was recorded in this run.",
	)
}

func TestHTMLShowsTheEnvironmentAndNewEvidence(t *testing.T) {
	page := htmlOf(t, roundTrip(t, synthetic(8)))
	mustContain(t, page,
		"<dt>Kubernetes</dt><dd>v1.37.2</dd>", "<dt>cctest</dt><dd>v0.7.0-test</dd>", "tdx, sev-snp",
		"platform-simulated", `<span class="bad">tampered-quote</span>`, "https://127.0.0.1:40001",
		"<strong>tdx-large</strong>", "binding: bound (pass)", "11 bytes", base64.StdEncoding.EncodeToString([]byte("quote bytes")),
		`<tr class="r-fail"><td>measurement</td>`, "matches no allowed measurement",
		"<dt>nonce</dt><dd><code class=\"hex\">00ff</code>",
	)
	if strings.Contains(page, "recorded no environment") {
		t.Error("environment entry ignored")
	}
}

// Strings from the cluster land in text, attributes, <pre>, SVG <title>
// and data attributes; everywhere they must stay text.
func TestHTMLEscapesClusterStrings(t *testing.T) {
	for name, r := range map[string]types.Report{"in memory": synthetic(8), "from disk": roundTrip(t, synthetic(8))} {
		page := htmlOf(t, r)
		if strings.Contains(page, "<script>window.__pwned") {
			t.Errorf("%s: a <script> from the cluster is in the page unescaped", name)
		}
		if strings.Contains(page, `<img src=x`) || strings.Contains(page, `onerror="window`) {
			t.Errorf("%s: an <img onerror> from the cluster is in the page unescaped", name)
		}
		if n := strings.Count(strings.ToLower(page), "<script"); n != 1 {
			t.Errorf("%s: %d <script> elements, want only the page's own", name, n)
		}
		mustContain(t, page, "&lt;script&gt;window.__pwned=1&lt;/script&gt;", "&lt;img src=x onerror=")
	}
}

var externalRef = regexp.MustCompile(`(?i)(?:\b(?:src|href|action|xlink:href|poster|data)\s*=\s*["']?\s*(?:https?:|//|ftp:))|url\(|@import`)

func TestHTMLLoadsNothingFromOutside(t *testing.T) {
	for _, r := range []types.Report{mustLoad(t, "testdata/pass.json"), mustLoad(t, "testdata/tampered-quote.json"), synthetic(8)} {
		page := htmlOf(t, r)
		if m := externalRef.FindAllString(page, -1); len(m) > 0 {
			t.Errorf("external references: %q", m)
		}
		// URLs from the cluster appear only as escaped text.
		for _, u := range regexp.MustCompile(`https?://[^\s"'<&]+`).FindAllStringIndex(page, -1) {
			before := page[max(0, u[0]-12):u[0]]
			if strings.ContainsAny(before[len(before)-1:], `="'`) {
				t.Errorf("URL in an attribute: %q", page[max(0, u[0]-30):u[1]])
			}
		}
	}
}

// The page's Content-Security-Policy allows exactly its own script.
func TestHTMLScriptMatchesItsCSPHash(t *testing.T) {
	page := htmlOf(t, mustLoad(t, "testdata/pass.json"))
	i, j := strings.Index(page, "<script>"), strings.Index(page, "</script>")
	if i < 0 || j < i {
		t.Fatal("no script")
	}
	sum := sha256.Sum256([]byte(page[i+len("<script>") : j]))
	want := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	if !strings.Contains(page, "script-src "+strings.ReplaceAll(want, "'", "&#39;")) {
		t.Errorf("CSP does not carry the script's hash %s", want)
	}
	mustContain(t, page, "default-src &#39;none&#39;")
}

func TestHTMLOfAnEmptyReport(t *testing.T) {
	page := htmlOf(t, types.Report{SuiteDescription: "cctest"})
	mustContain(t, page, "The report holds no specs.", "No timings recorded.", "No attestation evidence was recorded")
}

func TestHTMLExpandsFailingEvidenceAndAllOfASmallRun(t *testing.T) {
	small := htmlOf(t, synthetic(8))
	if n := strings.Count(small, `<details open>
<summary><h3>`); n != 6 {
		t.Errorf("small run: %d of 6 evidence records expanded", n)
	}
	big := htmlOf(t, synthetic(100)) // 75 records, 25 failing
	if n := strings.Count(big, `<details open>
<summary><h3><span class="badge fail">`); n != 25 || strings.Count(big, `<details>
<summary><h3><span class="badge pass">`) != 50 {
		t.Errorf("big run: %d failing records expanded, want 25 (and the 50 passing ones collapsed)", n)
	}
}

// A spec that examined a node type's nodes and failed fails that type's
// certification, though all of its evidence passes.
func TestCertificationFailsOnAFailedSpecThatExaminedTheType(t *testing.T) {
	r := synthetic(8)
	for i, s := range r.SpecReports {
		for _, e := range s.ReportEntries {
			if ev, ok := decodeEvidence(e); ok && ev.NodeType == "tdx-large" {
				r.SpecReports[i].State = types.SpecStateFailed
				r.SpecReports[i].Failure = types.Failure{Message: "one machine backs two nodes"}
			}
		}
	}
	// Only passing evidence remains for tdx-large.
	for i := range r.SpecReports {
		var keep types.ReportEntries
		for _, e := range r.SpecReports[i].ReportEntries {
			if ev, ok := decodeEvidence(e); !ok || ev.Verdict.Pass {
				keep = append(keep, e)
			}
		}
		r.SpecReports[i].ReportEntries = keep
	}
	p := newPage(r)
	found := false
	for _, row := range p.Cert.Rows {
		if row.NodeType == "tdx-large" {
			found = true
			if row.OK || row.Fail != 0 {
				t.Errorf("tdx-large: OK %v with %d failing evidence, want not OK from the failed spec alone", row.OK, row.Fail)
			}
		}
	}
	if !found {
		t.Fatal("no tdx-large row: the test checks nothing")
	}
}
