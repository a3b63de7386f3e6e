package reportcmd

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cctest/cctest/internal/exitcode"

	"github.com/cctest/cctest/internal/clitest"
	"github.com/cctest/cctest/reports"
)

const testdata = "../../reports/testdata/"

func execute(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return clitest.Execute(t, New(), args...)
}

var exitCode = clitest.ExitCode

func TestRendersThePageAndJUnit(t *testing.T) {
	dir := t.TempDir()
	page, junit := filepath.Join(dir, "out.html"), filepath.Join(dir, "out.xml")
	out, err := execute(t, "--from", testdata+"tampered-quote.json", "--html", page, "--junit", junit)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "FAIL: 22 specs (13 failed, 9 passed)") {
		t.Errorf("output:\n%s", out)
	}
	b, err := os.ReadFile(page)
	if err != nil || !bytes.Contains(b, []byte(`<div class="verdict" id="verdict">FAIL</div>`)) {
		t.Errorf("page: %v %.80q", err, b)
	}
	x, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	if err := xml.Unmarshal(x, &suites); err != nil || suites.Tests != 22 || suites.Failures != 13 {
		t.Errorf("junit: %v %+v", err, suites)
	}
}

func TestBundleCopiesTheSourceReport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bundle")
	out, err := execute(t, "--from", testdata+"pass.json", "--bundle", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "5 evidence files") || !strings.Contains(out, "PASS: 22 specs (22 passed)") {
		t.Errorf("output:\n%s", out)
	}
	src, _ := os.ReadFile(testdata + "pass.json")
	if got, _ := os.ReadFile(filepath.Join(dir, "report.json")); !bytes.Equal(got, src) {
		t.Error("report.json in the bundle is not the source file")
	}
	if p, err := reports.CheckManifest(dir); err != nil || len(p) != 0 {
		t.Errorf("manifest: %v %q", err, p)
	}
	// Re-bundling in place keeps the existing report.json.
	if out, err := execute(t, "--from", filepath.Join(dir, "report.json"), "--bundle", dir); err != nil || strings.Contains(out, "note:") {
		t.Errorf("in place: %v\n%s", err, out)
	}
}

func TestBadInputsExitTwoWithAClearMessage(t *testing.T) {
	dir := t.TempDir()
	notReport := filepath.Join(dir, "junit.xml")
	os.WriteFile(notReport, []byte(`<?xml version="1.0"?><testsuites/>`), 0o644)
	empty := filepath.Join(dir, "empty.json")
	os.WriteFile(empty, nil, 0o644)
	out := filepath.Join(dir, "x.html")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--html", out}, "--from is required"},
		{[]string{"--from", testdata + "pass.json"}, "nothing to do: give --html FILE, --junit FILE or --bundle DIR"},
		{[]string{"--from", filepath.Join(dir, "missing.json"), "--html", out}, "missing.json: no such file"},
		{[]string{"--from", notReport, "--html", out}, "junit.xml: not a Ginkgo JSON report"},
		{[]string{"--from", empty, "--html", out}, "empty.json: empty file: not a Ginkgo JSON report"},
		{[]string{"--from", testdata + "pass.json", "--htlm", out}, "unknown flag: --htlm"},
		{[]string{"extra-arg"}, `unexpected argument "extra-arg": give the report with --from`},
	} {
		_, err := execute(t, tc.args...)
		if exitCode(err) != exitcode.Usage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: exit %d, err %v; want 2 and %q", tc.args, exitCode(err), err, tc.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a page was written for bad input")
	}
}

func TestUnwritableOutputExitsOne(t *testing.T) {
	dir := t.TempDir()
	_, err := execute(t, "--from", testdata+"pass.json", "--html", dir)
	if exitCode(err) != exitcode.Failed || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("exit %d: %v", exitCode(err), err)
	}
	_, err = execute(t, "--from", testdata+"pass.json", "--junit", filepath.Join(dir, "no", "such", "dir", "j.xml"))
	if exitCode(err) != exitcode.Failed || !strings.Contains(err.Error(), "--junit") {
		t.Errorf("exit %d: %v", exitCode(err), err)
	}
}

func TestHelpHasExamples(t *testing.T) {
	out, err := execute(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--from", "--html", "--junit", "--bundle", "cctest report --from cctest-results/report.json --html", "self-contained", "manifest.json"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}
