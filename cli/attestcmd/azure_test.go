package attestcmd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cctest/cctest/attest/azure"
	"github.com/cctest/cctest/attest/device"
	"github.com/cctest/cctest/internal/exitcode"
	"github.com/cctest/cctest/simulators/tee"
	"github.com/cctest/cctest/simulators/tee/simdevice"
)

// The real Azure SEV-SNP CVM sample (Trustee's evidence-v2.json), read in
// place, and the nonce its TPM quote was made over (Trustee's test
// EVIDENCE_V2_REPORT_DATA). It is the sample's own nonce: this proves the
// binding to a nonce, not freshness.
var azureSample = filepath.Join("..", "..", "..", "shared", "upstream", "evidence", "az-snp-vtpm", "evidence-v2.json")

const azureSampleNonce = "982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9aa398f647caa2338748cd0fd9f5f819ef"

const azurePolicy = `apiVersion: cctest.dev/v1alpha1
kind: AttestationPolicy
name: azure-sample
snp:
  allowedMeasurements:
  - name: azure-paravisor
    measurement: "5b0ce64ad1c1f6375dbda5f760b98526ca1bcf91b8195091afc28e7b024251d68fe32e05af34048d6607678cd23283ff"
azure:
  pcrs:
  - {index: 0, sha256: "84275b2f4312cd4fc6cbe6b152ad3c3683e513d9f1e23c34fca160c8cca7a6a7"}
`

func TestVerifyRealAzureSNPEvidence(t *testing.T) {
	data, err := os.ReadFile(azureSample)
	if err != nil {
		t.Skipf("real Azure evidence not available: %v", err)
	}
	dir := t.TempDir()
	pol := filepath.Join(dir, "azure.yaml")
	_ = os.WriteFile(pol, []byte(azurePolicy), 0o644)
	verify := func(evidence []byte, nonce string) (string, string, int) {
		f := filepath.Join(dir, "ev.json")
		_ = os.WriteFile(f, evidence, 0o644)
		return run(t, New(), "verify", "--evidence", f, "--policy", pol, "--nonce", nonce, "--at", "2025-06-01T00:00:00Z")
	}
	out, errOut, code := verify(data, azureSampleNonce)
	if code != 0 || !strings.Contains(out, "AMD ARK (vendor)") || !strings.Contains(out, "measured in the vTPM PCRs") {
		t.Fatalf("real sample refused: exit %d\n%s%s", code, out, errOut)
	}

	flip := func(f func(ev *azure.Evidence)) []byte {
		ev, err := azure.ParseEvidence(data)
		if err != nil {
			t.Fatal(err)
		}
		ev.HCLReport = bytes.Clone(ev.HCLReport)
		ev.Quote.Message, ev.Quote.Signature = bytes.Clone(ev.Quote.Message), bytes.Clone(ev.Quote.Signature)
		f(&ev)
		b, _ := json.Marshal(ev)
		return b
	}
	at := func(b []byte, marker string) int { return bytes.Index(b, []byte(marker)) + len(marker) }
	for _, tc := range []struct {
		name, want string
		evidence   []byte
		nonce      string
	}{
		{"snp report", "snp-verify:", flip(func(ev *azure.Evidence) { ev.HCLReport[32+0x90] ^= 1 }), azureSampleNonce},
		{"runtime data", "runtime-data-binding: the SNP report's REPORT_DATA does not hold the runtime data's digest",
			flip(func(ev *azure.Evidence) { ev.HCLReport[at(ev.HCLReport, `"vmUniqueId":"`)] ^= 1 }), azureSampleNonce},
		{"tpm quote", "tpm-quote-signature: TPM quote signature does not verify with the AK (HCLAkPub) from the runtime data",
			flip(func(ev *azure.Evidence) { ev.Quote.Message[40] ^= 1 }), azureSampleNonce},
		{"tpm signature", "tpm-quote-signature: TPM quote signature does not verify",
			flip(func(ev *azure.Evidence) { ev.Quote.Signature[0] ^= 1 }), azureSampleNonce},
		{"other nonce", "nonce: nonce mismatch: the TPM quote was made over extraData 982f5c6e", data, "00" + azureSampleNonce[2:]},
	} {
		out, errOut, code := verify(tc.evidence, tc.nonce)
		if code != exitcode.Failed || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, want %d with %q\n%s%s", tc.name, code, exitcode.Failed, tc.want, out, errOut)
		}
	}
}

// `cctest attest` on an Azure CVM, with the simulated vTPM device in place
// of /dev/tpmrm0: fresh evidence, saved, then verified again from the file.
func TestAttestSimulatedAzureDevice(t *testing.T) {
	m, err := tee.NewAzureSNPMachine(tee.AzureSNPOptions{SNPOptions: tee.SNPOptions{Name: "az-node"}})
	if err != nil {
		t.Fatal(err)
	}
	old := detect
	defer func() { detect = old }()
	detect = func() (device.Device, error) { return simdevice.New(m), nil }
	base, err := os.ReadFile(policyPath("snp-simulated.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pol := filepath.Join(dir, "az.yaml")
	_ = os.WriteFile(pol, append(base, []byte("azure:\n  pcrs:\n  - {index: 7, sha256: \""+hexOf(m.PCR(7))+"\"}\n")...), 0o644)
	saved := filepath.Join(dir, "ev.json")
	out, errOut, code := run(t, New(), "--policy", pol, "--save-evidence", saved)
	if code != 0 || !strings.Contains(out, "az-snp-vtpm") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	data, _ := os.ReadFile(saved)
	var ev struct{ Nonce []byte }
	_ = json.Unmarshal(data, &ev)
	if out, errOut, code := run(t, New(), "verify", "--evidence", saved, "--policy", pol, "--nonce", hexOf(ev.Nonce)); code != 0 {
		t.Fatalf("saved evidence: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := run(t, New(), "verify", "--evidence", saved, "--policy", pol, "--nonce", "00"+hexOf(ev.Nonce)[2:]); code != exitcode.Failed ||
		!strings.Contains(errOut, "nonce mismatch") {
		t.Fatalf("other nonce: exit %d %s", code, errOut)
	}
}
