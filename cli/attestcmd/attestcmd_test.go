package attestcmd

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cctest/cctest/internal/exitcode"

	"github.com/cctest/cctest/attest/device"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/simulators/tee"
	tdxtestdata "github.com/google/go-tdx-guest/testing/testdata"
	"github.com/spf13/cobra"
)

func policyPath(name string) string { return filepath.Join("..", "..", "fixtures", "policies", name) }

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

func TestSimulatedAttestPasses(t *testing.T) {
	for _, tc := range [][]string{
		{"--simulate", "tdx", "--policy", policyPath("tdx-simulated.yaml")},
		{"--simulate", "snp", "--policy", policyPath("snp-simulated.yaml")},
		{"--simulate", "snp", "--product-line", "Genoa", "--report-version", "5", "--policy", policyPath("platform.yaml")},
		{"--simulate", "tdx"}, // embedded example policy
		{"--simulate", "tdx", "--quote-version", "5"},
		{"--simulate", "snp", "--signing-key", "vlek", "--product-line", "Genoa"},
	} {
		out, errOut, code := run(t, New(), tc...)
		if code != 0 || !strings.HasPrefix(out, "PASS") {
			t.Fatalf("%v: exit %d\n%s%s", tc, code, out, errOut)
		}
	}
}

// A weak policy passes what it passes, with a warning naming the hole.
func TestWeakPolicyWarns(t *testing.T) {
	dir := t.TempDir()
	rd := verifier.BindReportData([]byte{3}, "ctx")
	q, _ := tee.NewTDXMachine(tee.TDXOptions{Name: "w"}).Quote(rd)
	_ = os.WriteFile(filepath.Join(dir, "q.bin"), q, 0o644)
	weak := filepath.Join(dir, "weak.yaml")
	_ = os.WriteFile(weak, []byte("apiVersion: cctest.dev/v1alpha1\nkind: AttestationPolicy\nname: weak\ntrustRoots: [simulated]\ntdx:\n  allowedMeasurements:\n  - name: m\n    mrtd: \""+
		hex.EncodeToString(tee.DefaultMRTD)+"\"\n  minimumTeeTcbSvn: \"03000500000000000000000000000000\"\n"), 0o644)
	out, errOut, code := run(t, New(), "verify", "--evidence", filepath.Join(dir, "q.bin"), "--policy", weak, "--nonce", "03", "--bind-context", "ctx")
	if code != 0 || !strings.Contains(errOut, `warning: policy "weak" is weak: tdx.allowedMeasurements[0] (m) pins MRTD but leaves RTMR0, RTMR1, RTMR2 open`) ||
		!strings.Contains(errOut, "warning: policy \"weak\" is weak: collateral.checkRevocations is off") {
		t.Errorf("weak policy: exit %d\n%s%s", code, out, errOut)
	}
}

func TestEverySimulatedFaultFailsWithItsReason(t *testing.T) {
	want := map[string]string{
		"debug": "debug:", "wrong-measurement": "measurement:", "tampered": "verify: unable to verify message digest",
		"old-tcb": "tcb-status: Intel TCB status not accepted by the policy: platform OutOfDate", "untrusted-root": "unknown authority", "forged-chain": "Intermediate CA",
		"replay": "nonce:", "migratable": "migratable:", "expired-cert": "expired", "revoked": "revoked",
	}
	snpWant := map[string]string{
		"debug": "debug:", "wrong-measurement": "measurement:", "tampered": "report signature verification error",
		"old-tcb": "tcb:", "untrusted-root": "could not be verified by any trusted roots", "forged-chain": "could not be verified",
		"replay": "nonce:", "migratable": "migratable:", "vmpl": "vmpl:", "expired-cert": "expired",
	}
	for teeName, cases := range map[string]map[string]string{"tdx": want, "snp": snpWant} {
		for fault, reason := range cases {
			out, errOut, code := run(t, New(), "--simulate", teeName, "--simulate-fault", fault)
			if code != exitcode.Failed || !strings.HasPrefix(out, "FAIL") || !strings.Contains(errOut, reason) {
				t.Errorf("%s %s: exit %d, want 1 with %q\n%s\n%s", teeName, fault, code, reason, out, errOut)
			}
		}
	}
	if _, errOut, code := run(t, New(), "--simulate", "tdx", "--simulate-fault", "vmpl"); code != exitcode.Usage || !strings.Contains(errOut, "does not apply to tdx") {
		t.Errorf("vmpl on tdx: %d %s", code, errOut)
	}
	if _, errOut, code := run(t, New(), "--simulate", "tdx", "--simulate-fault", "bogus"); code != exitcode.Usage || !strings.Contains(errOut, "unknown fault") {
		t.Errorf("bogus fault: %d %s", code, errOut)
	}
}

func TestNoDeviceExitsNoDeviceNamingPaths(t *testing.T) {
	dir := t.TempDir()
	old := detect
	defer func() { detect = old }()
	detect = func() (device.Device, error) {
		return device.DetectAt(device.Paths{ConfigFSTSM: filepath.Join(dir, "tsm"), TDXGuest: filepath.Join(dir, "tdx_guest"), SEVGuest: filepath.Join(dir, "sev-guest")})
	}
	for _, cmd := range []*cobra.Command{New(), NewGate()} {
		args := []string{"--policy", policyPath("tdx-hardware.yaml")}
		if cmd.Name() == "gate" {
			args = append(args, "--", "true")
		}
		_, errOut, code := run(t, cmd, args...)
		if code != exitcode.NoDevice || !strings.Contains(errOut, filepath.Join(dir, "tdx_guest")) || !strings.Contains(errOut, "sev-guest") {
			t.Errorf("%s: exit %d: %s", cmd.Name(), code, errOut)
		}
	}
	// A device file alone is not evidence.
	if err := os.WriteFile(filepath.Join(dir, "tdx_guest"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, New(), "--policy", policyPath("tdx-hardware.yaml"))
	if code != exitcode.Failed || !strings.Contains(errOut, "fetching evidence") {
		t.Errorf("plain file as device: exit %d: %s", code, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--simulate", "sgx"}, "want tdx or snp"},
		{[]string{"--simulate", "tdx", "-o", "yaml"}, "want table or json"},
		{[]string{"--simulate", "tdx", "--policy", "/nonexistent.yaml"}, "/nonexistent.yaml"},
		{[]string{"--simulate-fault", "debug"}, "needs --simulate"},
		{[]string{"--simulate", "snp", "--product-line", "Turin"}, "unsupported SNP product line"},
		{[]string{"--simulate", "tdx", "--quote-version", "3"}, "unsupported TDX quote version 3"},
		{[]string{"--simulate", "snp", "--signing-key", "vxek"}, "want vcek or vlek"},
		{[]string{"verify", "--policy", policyPath("tdx-simulated.yaml")}, "--evidence and --policy are required"},
	} {
		_, errOut, code := run(t, New(), tc.args...)
		if code != exitcode.Usage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d: %s", tc.args, code, errOut)
		}
	}
}

func TestSaveThenVerifyEvidence(t *testing.T) {
	dir := t.TempDir()
	evPath := filepath.Join(dir, "ev.json")
	out, _, code := run(t, New(), "--simulate", "snp", "-o", "json", "--save-evidence", evPath)
	if code != 0 {
		t.Fatal(out)
	}
	var vd verifier.Verdict
	if err := json.Unmarshal([]byte(out), &vd); err != nil || !vd.Pass || len(vd.Checks) == 0 {
		t.Fatalf("json verdict: %v %+v", err, vd)
	}
	data, _ := os.ReadFile(evPath)
	var ev verifier.Evidence
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatal(err)
	}
	nonce := strings.TrimSpace(vd.ReportData)
	// Verified in "another process": the REPORT_DATA is the expectation.
	out, errOut, code := run(t, New(), "verify", "--evidence", evPath, "--policy", policyPath("snp-simulated.yaml"), "--nonce", nonce)
	if code != 0 {
		t.Fatalf("verify saved: %d %s %s", code, out, errOut)
	}
	// Wrong nonce, no nonce, vendor policy: all fail.
	if _, errOut, code := run(t, New(), "verify", "--evidence", evPath, "--policy", policyPath("snp-simulated.yaml"), "--nonce", "00"); code != exitcode.Failed || !strings.Contains(errOut, "nonce:") {
		t.Errorf("wrong nonce: %d %s", code, errOut)
	}
	if _, errOut, code := run(t, New(), "verify", "--evidence", evPath, "--policy", policyPath("snp-simulated.yaml")); code != exitcode.Failed || !strings.Contains(errOut, "freshness") {
		t.Errorf("no nonce: %d %s", code, errOut)
	}
	if _, errOut, code := run(t, New(), "verify", "--evidence", evPath, "--policy", policyPath("snp-hardware.yaml"), "--nonce", nonce); code != exitcode.Failed || !strings.Contains(errOut, "verify:") {
		t.Errorf("simulated evidence vs hardware policy: %d %s", code, errOut)
	}
	// A bare report plus --vcek.
	m := tee.MustNewSNPMachine(tee.SNPOptions{Name: "bare", OmitCertTable: true})
	rd := verifier.BindReportData([]byte{1, 2}, "ctx")
	raw, _ := m.Report(rd)
	vcek, _ := m.VCEK()
	rawPath, vcekPath := filepath.Join(dir, "report.bin"), filepath.Join(dir, "vcek.der")
	_ = os.WriteFile(rawPath, raw, 0o644)
	_ = os.WriteFile(vcekPath, vcek, 0o644)
	if out, errOut, code := run(t, New(), "verify", "--evidence", rawPath, "--vcek", vcekPath, "--policy", policyPath("snp-simulated.yaml"),
		"--nonce", "0102", "--bind-context", "ctx"); code != 0 {
		t.Errorf("bare report + vcek: %d %s %s", code, out, errOut)
	}
}

// A bare VLEK-signed report verifies with --vlek; the VLEK given for a
// VCEK-signed report is named as the problem.
func TestVerifyVLEKReport(t *testing.T) {
	dir := t.TempDir()
	rd := verifier.BindReportData([]byte{3}, "ctx")
	aws := tee.MustNewSNPMachine(tee.SNPOptions{Name: "aws", VLEK: true})
	chip := tee.MustNewSNPMachine(tee.SNPOptions{Name: "chip"})
	awsReport, _ := aws.Report(rd)
	chipReport, _ := chip.Report(rd)
	vlek, _ := aws.VLEK()
	paths := map[string][]byte{"aws.bin": awsReport, "chip.bin": chipReport,
		"vlek.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: vlek})}
	for name, data := range paths {
		_ = os.WriteFile(filepath.Join(dir, name), data, 0o644)
	}
	verify := func(report string, extra ...string) (string, string, int) {
		return run(t, New(), append([]string{"verify", "--evidence", filepath.Join(dir, report), "--policy", policyPath("snp-simulated.yaml"),
			"--nonce", "03", "--bind-context", "ctx"}, extra...)...)
	}
	if out, errOut, code := verify("aws.bin", "--vlek", filepath.Join(dir, "vlek.pem")); code != 0 || !strings.Contains(out, "signing-key") ||
		!strings.Contains(errOut, "note: on AWS SEV-SNP instances (VLEK-signed reports) the launch MEASUREMENT covers the firmware (OVMF) only") {
		t.Errorf("VLEK report + --vlek: %d %s %s", code, out, errOut)
	}
	if _, errOut, code := verify("aws.bin"); code != exitcode.Failed || !strings.Contains(errOut, "signing-key: the report is signed by a VLEK") {
		t.Errorf("VLEK report without its VLEK: %d %s", code, errOut)
	}
	if _, errOut, code := verify("chip.bin", "--vlek", filepath.Join(dir, "vlek.pem")); code != exitcode.Failed ||
		!strings.Contains(errOut, "a VLEK certificate was supplied, but the report's SIGNING_KEY is 0") {
		t.Errorf("VLEK for a VCEK report: %d %s", code, errOut)
	}
}

func TestVerifyRealProductionQuote(t *testing.T) {
	dir := t.TempDir()
	raw := tdxtestdata.RawQuote
	quote := filepath.Join(dir, "quote.bin")
	_ = os.WriteFile(quote, raw, 0o644)
	pol := filepath.Join(dir, "p.yaml")
	_ = os.WriteFile(pol, []byte(`apiVersion: cctest.dev/v1alpha1
kind: AttestationPolicy
name: sample
tdx:
  allowedMeasurements:
  - name: sample
    mrtd: "`+hexOf(raw[0x30+0x88:0x30+0xB8])+`"
`), 0o644)
	nonce := hexOf(raw[0x30+0x208 : 0x30+0x248])
	out, errOut, code := run(t, New(), "verify", "--evidence", quote, "--policy", pol, "--nonce", nonce, "--at", "2023-07-01T01:00:00Z")
	if code != 0 || !strings.Contains(out, "Intel SGX Root CA (vendor)") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

// Quote v5 used to fail here with "not a TDX quote v4": Intel's real
// sample (TDX 1.5 body, go-tdx-guest testdata) verifies.
func TestVerifyRealQuoteV5(t *testing.T) {
	dir := t.TempDir()
	raw := tdxtestdata.RawQuoteV5
	quote := filepath.Join(dir, "quote-v5.bin")
	_ = os.WriteFile(quote, raw, 0o644)
	pol := filepath.Join(dir, "p.yaml")
	_ = os.WriteFile(pol, []byte(`apiVersion: cctest.dev/v1alpha1
kind: AttestationPolicy
name: sample-v5
tdx:
  allowedMeasurements:
  - name: sample
    mrtd: "`+hexOf(raw[0x36+0x88:0x36+0xB8])+`"
  mrServiceTd: "`+strings.Repeat("00", 48)+`"
`), 0o644)
	nonce := hexOf(raw[0x36+0x208 : 0x36+0x248])
	out, errOut, code := run(t, New(), "verify", "--evidence", quote, "--policy", pol, "--nonce", nonce, "--at", "2026-06-01T00:00:00Z")
	if code != 0 || !strings.Contains(out, "TDX quote v5 (TDX 1.5 body)") || !strings.Contains(out, "mrservicetd") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestCollateralDirRecordsThenReplays(t *testing.T) {
	dir := t.TempDir()
	if _, errOut, code := run(t, New(), "--simulate", "tdx", "--collateral-dir", dir); code != 0 {
		t.Fatal(errOut)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) < 3 {
		t.Fatalf("recorded %d collateral files", len(entries))
	}
}

func TestGate(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "joined")
	join := []string{"--", "sh", "-c", "echo joined > " + marker}
	// Passing evidence: the join command runs.
	if _, errOut, code := run(t, NewGate(), append([]string{"--simulate", "snp", "--policy", policyPath("platform.yaml")}, join...)...); code != 0 {
		t.Fatalf("gate: %d %s", code, errOut)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("join command did not run")
	}
	_ = os.Remove(marker)
	// Failing evidence: it does not, and the verdict explains why.
	_, errOut, code := run(t, NewGate(), append([]string{"--simulate", "tdx", "--simulate-fault", "debug", "--policy", policyPath("platform.yaml")}, join...)...)
	if code != exitcode.Failed || !strings.Contains(errOut, "not running sh") || !strings.Contains(errOut, "FAIL") {
		t.Fatalf("gate with debug TD: %d %s", code, errOut)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("join command ran despite failed attestation")
	}
	// The join command's exit status is passed through.
	if _, _, code := run(t, NewGate(), "--simulate", "tdx", "--", "sh", "-c", "exit 7"); code != 7 {
		t.Fatalf("exit status = %d, want 7", code)
	}
	// No command: usage error.
	if _, errOut, code := run(t, NewGate(), "--simulate", "tdx"); code != exitcode.Usage || !strings.Contains(errOut, "missing the join command") {
		t.Fatalf("no command: %d %s", code, errOut)
	}
}

// The production CLI must not grow Go-flag-package flags from the TEE
// libraries (go-sev-guest/go-tdx-guest register some at init).
func TestHelpIsNotPolluted(t *testing.T) {
	out, _, _ := run(t, New(), "--help")
	for _, bad := range []string{"tdx_guest_device_path", "sev_guest_device_path", "workaround_kds", "product_name", "test."} {
		if strings.Contains(out, bad) {
			t.Errorf("--help mentions %q", bad)
		}
	}
	if !strings.Contains(out, "--simulate-fault") || !strings.Contains(out, "Examples:") {
		t.Errorf("help lacks flags/examples:\n%s", out)
	}
}

func TestAttestJSONShowsTDXTCBStatus(t *testing.T) {
	out, errOut, code := run(t, New(), "--simulate", "tdx", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{`"tdxTcb"`, `"status": "UpToDate"`, `"component": "qe"`, `"nextUpdate"`, `"issueDate"`, `"tcbEvaluationDataNumber": 17`} {
		if !strings.Contains(out, want) {
			t.Errorf("attest -o json lacks %s\n%s", want, out)
		}
	}
}

// The simulated PCS announces a TCB recovery: attest shows the forecast in
// JSON and in the table, and the verdict still passes.
func TestAttestShowsTDXTCBForecast(t *testing.T) {
	out, errOut, code := run(t, New(), "--simulate", "tdx", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{`"tdxTcbForecast": {`, `"available": true`, `"pending": true`, `"status": "OutOfDate"`,
		`"standardEvaluationDataNumber": 17`, `"earlyEvaluationDataNumber": 18`, `"effectiveDate": "`, `"component": "TDX module"`,
		"informational: the forecast never fails a verdict by itself"} {
		if !strings.Contains(out, want) {
			t.Errorf("attest -o json lacks %s\n%s", want, out)
		}
	}
	out, errOut, code = run(t, New(), "--simulate", "tdx")
	if code != 0 || !strings.Contains(out, "tcb forecast: under the early TCB info (tcbEvaluationDataNumber 18, standard 17) this platform is OutOfDate from ") ||
		!strings.Contains(out, "update TDX module: TEE_TCB_SVN[0]") {
		t.Errorf("exit %d, table:\n%s%s", code, out, errOut)
	}
}
