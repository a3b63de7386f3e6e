package measurecmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/simulators/tee"
)

func run(t *testing.T, cmd *cobra.Command, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	code := 0
	if err != nil {
		code = 1
		var c interface{ ExitCode() int }
		if errors.As(err, &c) {
			code = c.ExitCode()
		}
		errOut.WriteString("error: " + err.Error())
	}
	return out.String(), errOut.String(), code
}

func TestMeasureAndAddRelease(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "rel.json")
	out, errOut, code := run(t, New(), "--simulate", "tdx", "--name", "sim-2026.12", "--node-type", "sim", "--vm-size", "4c-8g", "-o", rec)
	if code != 0 || !strings.Contains(out, "7 events") {
		t.Fatalf("measure: %d %s %s", code, out, errOut)
	}
	var r map[string]any
	data, _ := os.ReadFile(rec)
	if err := json.Unmarshal(data, &r); err != nil || r["version"] != float64(1) || r["kind"] != "ReleaseMeasurement" || r["vmSize"] != "4c-8g" {
		t.Fatalf("record: %v %s", err, data)
	}
	orig, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "policies", "tdx-simulated.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := run(t, NewPolicy(), "add-release", rec, "--policy", pol); code != 0 || !strings.Contains(out, `added release "sim-2026.12"`) {
		t.Fatalf("add-release: %d %s %s", code, out, errOut)
	}
	edited, _ := os.ReadFile(pol)
	if !bytes.HasPrefix(edited, orig[:bytes.Index(orig, []byte("  minimumTeeTcbSvn"))]) {
		t.Fatalf("the original text before the insertion changed:\n%s", edited)
	}
	if !bytes.HasSuffix(edited, orig[bytes.Index(orig, []byte("  minimumTeeTcbSvn")):]) {
		t.Fatalf("the original text after the insertion changed:\n%s", edited)
	}
	p, err := policy.Load(edited)
	if err != nil {
		t.Fatal(err)
	}
	// A node of the release passes the edited policy.
	b := tee.DefaultBootChain()
	node := tee.NewTDXMachine(tee.TDXOptions{Name: "node", Boot: &b})
	rd := verifier.BindReportData([]byte("n"), "t")
	raw, err := node.Quote(rd)
	if err != nil {
		t.Fatal(err)
	}
	ev := verifier.Evidence{TEE: node.TEE(), Raw: raw, EventLog: node.EventLog()}
	vd := verifier.New(verifier.Options{TestRoots: tee.TestRoots()}).Verify(ev, withoutCollateral(t, p), rd[:])
	if !vd.Pass || vd.MatchedImage != "sim-2026.12" {
		t.Fatalf("verdict: %s (matched %q)", vd.Reason, vd.MatchedImage)
	}
	// Twice: refused, file untouched.
	if _, errOut, code := run(t, NewPolicy(), "add-release", rec, "--policy", pol); code != 2 || !strings.Contains(errOut, "already has an entry named") {
		t.Fatalf("second add: %d %s", code, errOut)
	}
	if again, _ := os.ReadFile(pol); !bytes.Equal(again, edited) {
		t.Fatal("refused add-release changed the file")
	}
}

func withoutCollateral(t *testing.T, p *policy.Policy) *policy.Policy {
	q := *p
	q.Collateral = policy.Collateral{}
	return &q
}

func TestMeasureSNPAndBadInput(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "snp.json")
	if out, errOut, code := run(t, New(), "--simulate", "snp", "--name", "snp-rel", "-o", rec); code != 0 || !strings.Contains(out, "guest policy 0x") {
		t.Fatalf("snp: %d %s %s", code, out, errOut)
	}
	junk := filepath.Join(dir, "junk")
	_ = os.WriteFile(junk, []byte("junk"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--simulate", "tdx", "-o", rec}, "--name and -o are required"},
		{[]string{"--name", "x", "-o", rec}, "exactly one of --evidence and --simulate"},
		{[]string{"--evidence", junk, "--name", "x", "-o", rec}, "not a TDX quote"},
		{[]string{"--simulate", "tdx", "--simulate-fault", "vmpl", "--name", "x", "-o", rec}, "does not apply"},
		{[]string{"--simulate", "tdx", "--name", "x", "-o", filepath.Join(dir, "missing", "r.json")}, "writing the record"},
	} {
		if _, errOut, code := run(t, New(), tc.args...); code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: %d %s, want %q", tc.args, code, errOut, tc.want)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"add-release", rec}, "--policy is required"},
		{[]string{"add-release", junk, "--policy", junk}, "release record: not valid JSON"},
		{[]string{"add-release", rec, "--policy", filepath.Join(dir, "nope.yaml")}, "no such file"},
	} {
		if _, errOut, code := run(t, NewPolicy(), tc.args...); code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: %d %s, want %q", tc.args, code, errOut, tc.want)
		}
	}
}
