package azure

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Real Azure SEV-SNP CVM evidence (Trustee's test data), read in place.
var sampleDir = filepath.Join("..", "..", "..", "shared", "upstream", "evidence", "az-snp-vtpm")

// The v2 sample's nonce: Trustee's test (EVIDENCE_V2_REPORT_DATA) quotes it.
const SampleV2Nonce = "982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9aa398f647caa2338748cd0fd9f5f819ef"

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sampleDir, name))
	if err != nil {
		t.Skipf("real Azure evidence not available: %v", err)
	}
	return b
}

func TestRealSampleParts(t *testing.T) {
	for _, name := range []string{"evidence-v0.json", "evidence-v1.json", "evidence-v2.json", "evidence-genoa.json"} {
		t.Run(name, func(t *testing.T) {
			data := readSample(t, name)
			if !IsEvidenceJSON(data) {
				t.Fatal("not recognised as az-snp-vtpm evidence")
			}
			ev, err := ParseEvidence(data)
			if err != nil {
				t.Fatal(err)
			}
			hcl, err := ParseHCLReport(ev.HCLReport)
			if err != nil {
				t.Fatal(err)
			}
			snp, err := hcl.SNPReport()
			if err != nil {
				t.Fatal(err)
			}
			d, err := hcl.RuntimeDataDigest()
			if err != nil {
				t.Fatal(err)
			}
			// The binding the real sample shows: REPORT_DATA = SHA-256(runtime data) || 32 zero bytes.
			if !bytes.Equal(snp[0x50:0x70], d) || !bytes.Equal(snp[0x70:0x90], make([]byte, 32)) {
				t.Fatalf("REPORT_DATA %x is not SHA-256(runtime data) %x || zeros", snp[0x50:0x90], d)
			}
			rd, err := ParseRuntimeData(hcl.RuntimeData)
			if err != nil {
				t.Fatal(err)
			}
			ak, err := rd.AK()
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyQuoteSignature(ev.Quote, ak); err != nil {
				t.Fatal(err)
			}
			info, err := ParseQuote(ev.Quote)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("v%d nonce %q (%x), %d PCRs, user-data %s", ev.Version, info.ExtraData, info.ExtraData, len(info.PCRs), rd.UserData[:16])
		})
	}
}

func TestV2NonceAndUserData(t *testing.T) {
	ev, err := ParseEvidence(readSample(t, "evidence-v2.json"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := ParseQuote(ev.Quote)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(info.ExtraData) != SampleV2Nonce {
		t.Fatalf("extraData %x", info.ExtraData)
	}
	hcl, _ := ParseHCLReport(ev.HCLReport)
	rd, _ := ParseRuntimeData(hcl.RuntimeData)
	if !strings.HasPrefix(strings.ToLower(rd.UserData), SampleV2Nonce) {
		t.Fatalf("user-data %s", rd.UserData)
	}
}
