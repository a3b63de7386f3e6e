package azure

import (
	"crypto/rsa"
	"math/big"
	"os"
	"path/filepath"
	"testing"
)

// FuzzAzureEvidence feeds hostile HCL reports, quote messages, signatures
// and evidence JSON through every parser: errors, never panics.
func FuzzAzureEvidence(f *testing.F) {
	read := func(name string) []byte {
		b, _ := os.ReadFile(filepath.Join(sampleDir, name))
		return b
	}
	f.Add(read("hcl-report.bin"), read("tpm-quote.msg"), read("tpm-quote.sig"), read("evidence-v1.json"))
	f.Add([]byte("HCLA"), []byte{0xff, 0x54, 0x43, 0x47, 0x80, 0x18}, []byte{}, []byte(`{"quote":{},"report":[1,2]}`))
	f.Add(make([]byte, MinHCLReportSize), []byte{}, []byte{1}, []byte(`{"version":2,"tpm_quote":{"pcrs":["00"]},"hcl_report":"SENMQQ"}`))
	dummy := &rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), 2047), E: 65537}
	f.Fuzz(func(t *testing.T, hcl, msg, sig, js []byte) {
		if IsEvidenceJSON(js) {
			if ev, err := ParseEvidence(js); err == nil {
				_, _ = ParseQuote(ev.Quote)
				_, _ = ParseHCLReport(ev.HCLReport)
			}
		}
		q := Quote{Message: msg, Signature: sig, PCRs: [][]byte{msg}}
		_, _ = ParseQuote(q)
		_ = VerifyQuoteSignature(q, dummy)
		r, err := ParseHCLReport(hcl)
		if err != nil {
			return
		}
		_, _ = r.SNPReport()
		_, _ = r.RuntimeDataDigest()
		_ = r.ReportTypeName()
		if rd, err := ParseRuntimeData(r.RuntimeData); err == nil {
			if ak, err := rd.AK(); err == nil {
				_ = VerifyQuoteSignature(q, ak)
			}
			_ = rd.UserDataBytes()
		}
	})
}
