package verifier

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cctest/cctest/attest/azure"
	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/simulators/tee"
)

// Real Azure SEV-SNP CVM evidence (Trustee's test data), read in place.
var azureSampleDir = filepath.Join("..", "..", "..", "shared", "upstream", "evidence", "az-snp-vtpm")

// azureV2Nonce is what the v2 sample's TPM quote was made over (Trustee's
// test EVIDENCE_V2_REPORT_DATA): the sample's own nonce, so these tests
// prove the binding, not freshness.
const azureV2Nonce = "982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9aa398f647caa2338748cd0fd9f5f819ef"

func readAzureSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(azureSampleDir, name))
	if err != nil {
		t.Skipf("real Azure evidence not available: %v", err)
	}
	return b
}

const azureSamplePolicy = `apiVersion: cctest.dev/v1alpha1
kind: AttestationPolicy
name: azure-sample
trustRoots: [vendor]
snp:
  allowedMeasurements:
  - name: azure-paravisor
    measurement: "5b0ce64ad1c1f6375dbda5f760b98526ca1bcf91b8195091afc28e7b024251d68fe32e05af34048d6607678cd23283ff"
azure:
  pcrs:
  - {index: 0, sha256: "84275b2f4312cd4fc6cbe6b152ad3c3683e513d9f1e23c34fca160c8cca7a6a7"}
`

func azureSampleVerify(t *testing.T, raw []byte, nonce []byte, pol string) Verdict {
	t.Helper()
	ev, err := ParseEvidence(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Load([]byte(pol))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	return New(Options{Now: func() time.Time { return at }, DisableCache: true}).Verify(ev, p, nonce)
}

func azureNonce() []byte { n, _ := hex.DecodeString(azureV2Nonce); return n }

func TestAzureRealSamplePasses(t *testing.T) {
	vd := azureSampleVerify(t, readAzureSample(t, "evidence-v2.json"), azureNonce(), azureSamplePolicy)
	if !vd.Pass {
		t.Fatalf("real Azure SNP evidence refused: %s", vd.Reason)
	}
	if vd.TEE != policy.AzureSNPTEE || vd.TrustRoot == "" || vd.Simulated {
		t.Fatalf("verdict %+v", vd)
	}
	if !strings.Contains(strings.Join(vd.Notes, "\n"), "the guest OS is measured in the vTPM PCRs") {
		t.Fatalf("notes %v do not say where the OS is measured", vd.Notes)
	}
}

// tamper flips one bit in one part of the real sample and re-encodes it.
func tamper(t *testing.T, f func(ev *azure.Evidence)) []byte {
	t.Helper()
	ev, err := azure.ParseEvidence(readAzureSample(t, "evidence-v2.json"))
	if err != nil {
		t.Fatal(err)
	}
	ev.HCLReport = bytes.Clone(ev.HCLReport)
	ev.Quote.Message = bytes.Clone(ev.Quote.Message)
	ev.Quote.Signature = bytes.Clone(ev.Quote.Signature)
	f(&ev)
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mustIndex is the offset just after marker in b.
func mustIndex(t *testing.T, b []byte, marker string) int {
	i := bytes.Index(b, []byte(marker))
	if i < 0 {
		t.Fatalf("%s not in the sample", marker)
	}
	return i + len(marker)
}

func TestAzureRealSampleRefusals(t *testing.T) {
	otherNonce := azureNonce()
	otherNonce[0] ^= 1
	pinned := strings.Replace(azureSamplePolicy, "84275b2f", "84275b2e", 1)
	cases := []struct {
		name, reason string
		raw          []byte
		nonce        []byte
		pol          string
	}{
		{"snp-report-bit", "snp-verify: ", tamper(t, func(ev *azure.Evidence) { ev.HCLReport[32+0x90] ^= 1 }), nil, ""},
		{"runtime-data-bit", "runtime-data-binding: the SNP report's REPORT_DATA does not hold the runtime data's digest",
			tamper(t, func(ev *azure.Evidence) {
				ev.HCLReport[mustIndex(t, ev.HCLReport, `"vmUniqueId":"`)] ^= 1 // still valid JSON
			}), nil, ""},
		{"ak-not-runtime-data", "tpm-quote-signature: TPM quote signature does not verify with the AK (HCLAkPub) from the runtime data",
			tamper(t, func(ev *azure.Evidence) {
				ev.HCLReport[mustIndex(t, ev.HCLReport, `"kid":"HCLAkPub","key_ops":["sign"],"kty":"RSA","e":"AQAB","n":"`)+8] ^= 1 // a letter of the AK modulus
			}), nil, ""},
		{"tpm-quote-bit", "tpm-quote-signature: TPM quote signature does not verify",
			tamper(t, func(ev *azure.Evidence) { ev.Quote.Message[len(ev.Quote.Message)-1] ^= 1 }), nil, ""},
		{"tpm-signature-bit", "tpm-quote-signature: TPM quote signature does not verify",
			tamper(t, func(ev *azure.Evidence) { ev.Quote.Signature[17] ^= 1 }), nil, ""},
		{"pcr-value-bit", "tpm-quote: TPM quote: the PCR values do not match the quote's PCR digest",
			tamper(t, func(ev *azure.Evidence) { ev.Quote.PCRs[4] = bytes.Clone(ev.Quote.PCRs[4]); ev.Quote.PCRs[4][0] ^= 1 }), nil, ""},
		{"wrong-report-type", "azure-parse: HCL report wraps a TDX report (IGVM report type 4), not SEV-SNP",
			tamper(t, func(ev *azure.Evidence) { ev.HCLReport[32+1184+8] = 4 }), nil, ""},
		{"truncated-hcl", "azure-parse: HCL report truncated",
			tamper(t, func(ev *azure.Evidence) { ev.HCLReport = ev.HCLReport[:1000] }), nil, ""},
		{"other-nonce", "nonce: nonce mismatch: the TPM quote was made over extraData 982f5c", nil, otherNonce, ""},
		{"pcr-pin", "pcrs: PCR0 is 84275b2f", nil, nil, pinned},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, nonce, pol := tc.raw, tc.nonce, tc.pol
			if raw == nil {
				raw = readAzureSample(t, "evidence-v2.json")
			}
			if nonce == nil {
				nonce = azureNonce()
			}
			if pol == "" {
				pol = azureSamplePolicy
			}
			vd := azureSampleVerify(t, raw, nonce, pol)
			if vd.Pass || !strings.HasPrefix(vd.Reason, tc.reason) {
				t.Fatalf("pass=%v reason %q, want prefix %q", vd.Pass, vd.Reason, tc.reason)
			}
		})
	}
}

func TestAzureOlderSamples(t *testing.T) {
	// v0 / v1 / Genoa: Trustee's older formats, with their own nonces.
	for name, nonce := range map[string]string{
		"evidence-v0.json":    hex.EncodeToString([]byte("challenge")),
		"evidence-v1.json":    hex.EncodeToString([]byte("challenge")),
		"evidence-genoa.json": "0218488bae25d2509232bf676f1a66a30d7372add909109b36016ef136f2938ca05475f8b46094de6b64270ea35d950f",
	} {
		t.Run(name, func(t *testing.T) {
			n, _ := hex.DecodeString(nonce)
			pol := strings.Replace(azureSamplePolicy, "  pcrs:\n  - {index: 0, sha256: \"84275b2f4312cd4fc6cbe6b152ad3c3683e513d9f1e23c34fca160c8cca7a6a7\"}\n", "  pcrs: []\n", 1)
			vd := azureSampleVerify(t, readAzureSample(t, name), n, pol)
			for _, c := range vd.Checks {
				if !c.Pass && c.Name != "snp-measurement" { // other images than the v2 sample's
					t.Errorf("%s: %s", c.Name, c.Detail)
				}
			}
		})
	}
}

// The simulated Azure CVM (simulators/tee) makes the same shapes as the real
// one, checked by the same code, under the simulated roots.
func TestAzureSimulatedMachine(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "policies", "snp-simulated.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rd [64]byte
	copy(rd[:], "fresh verifier nonce")
	verify := func(m *tee.AzureSNPMachine, raw []byte, pin []byte) Verdict {
		t.Helper()
		p, err := policy.Load(append(bytes.Clone(base), []byte("azure:\n  pcrs:\n  - {index: 4, sha256: \""+hex.EncodeToString(pin)+"\"}\n")...))
		if err != nil {
			t.Fatal(err)
		}
		ev, err := ParseEvidence(raw)
		if err != nil {
			t.Fatal(err)
		}
		return New(Options{TestRoots: tee.TestRoots()}).Verify(ev, p, rd[:])
	}
	m, err := tee.NewAzureSNPMachine(tee.AzureSNPOptions{SNPOptions: tee.SNPOptions{Name: "az-node-1"}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := m.RawEvidence(rd)
	if err != nil {
		t.Fatal(err)
	}
	if vd := verify(m, raw, m.PCR(4)); !vd.Pass || !vd.Simulated {
		t.Fatalf("simulated Azure evidence refused: %s", vd.Reason)
	}
	if vd := verify(m, raw, m.PCR(5)); vd.Pass || !strings.HasPrefix(vd.Reason, "pcrs: PCR4 is ") {
		t.Errorf("wrong PCR pin: %q", vd.Reason)
	}
	stale, _ := m.EvidenceWithQuoteNonce(rd, []byte("an older nonce"))
	if vd := verify(m, stale, m.PCR(4)); vd.Pass || !strings.HasPrefix(vd.Reason, "nonce: nonce mismatch: the TPM quote was made over extraData "+hex.EncodeToString([]byte("an older nonce"))) {
		t.Errorf("quote over another nonce: %q", vd.Reason)
	}
	other, _ := tee.NewAzureSNPMachine(tee.AzureSNPOptions{SNPOptions: tee.SNPOptions{Name: "az-node-1"}, OtherAK: true})
	raw, _ = other.RawEvidence(rd)
	if vd := verify(other, raw, other.PCR(4)); vd.Pass || !strings.HasPrefix(vd.Reason, "tpm-quote-signature: TPM quote signature does not verify with the AK (HCLAkPub) from the runtime data") {
		t.Errorf("quote by another AK: %q", vd.Reason)
	}
}
