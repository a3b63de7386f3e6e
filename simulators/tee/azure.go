package tee

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"sync"

	"github.com/cctest/cctest/attest/azure"
	"github.com/google/go-tpm/tpm2"
)

// AzureSNPOptions describe a simulated Azure SEV-SNP confidential VM.
type AzureSNPOptions struct {
	SNPOptions
	// OtherAK signs TPM quotes with a key other than the AK the runtime
	// data carries (a quote the HCL report does not vouch for).
	OtherAK bool
}

// AzureSNPMachine is a simulated Azure SEV-SNP CVM: an SNP guest behind a
// paravisor whose vTPM serves the HCL report (SNP report with REPORT_DATA =
// SHA-256(runtime data) || zeros, runtime data carrying the AK) and TPM2
// quotes by that AK over all 24 SHA-256 PCRs, in Trustee's v2 JSON.
type AzureSNPMachine struct {
	SNP     *SNPMachine
	otherAK bool
	pcrs    [24][]byte

	once    sync.Once
	err     error
	ak, alt *rsa.PrivateKey
}

// NewAzureSNPMachine creates the machine (the AK is made on first use).
func NewAzureSNPMachine(o AzureSNPOptions) (*AzureSNPMachine, error) {
	snp, err := NewSNPMachine(o.SNPOptions)
	if err != nil {
		return nil, err
	}
	m := &AzureSNPMachine{SNP: snp, otherAK: o.OtherAK}
	for i := range m.pcrs {
		m.pcrs[i] = derive(o.Name, "azure-pcr/"+string(rune('a'+i)), 32)
	}
	return m, nil
}

// TEE returns "az-snp-vtpm".
func (m *AzureSNPMachine) TEE() string { return azure.TEESNP }

// Name names the machine.
func (m *AzureSNPMachine) Name() string { return m.SNP.Name() }

// PCR returns a simulated PCR value (what a policy pins).
func (m *AzureSNPMachine) PCR(i int) []byte { return m.pcrs[i] }

func (m *AzureSNPMachine) init() error {
	m.once.Do(func() {
		if m.ak, m.err = rsa.GenerateKey(rand.Reader, 2048); m.err == nil {
			m.alt, m.err = rsa.GenerateKey(rand.Reader, 2048)
		}
	})
	return m.err
}

// RawEvidence returns az-snp-vtpm evidence JSON for reportData: the guest
// writes it to the vTPM (NV index 0x01400002, so it shows as user-data) and
// quotes over it.
func (m *AzureSNPMachine) RawEvidence(reportData [64]byte) ([]byte, error) {
	return m.EvidenceWithQuoteNonce(reportData, reportData[:])
}

// EvidenceWithQuoteNonce is RawEvidence with the TPM quote made over nonce.
func (m *AzureSNPMachine) EvidenceWithQuoteNonce(reportData [64]byte, nonce []byte) ([]byte, error) {
	if err := m.init(); err != nil {
		return nil, err
	}
	hcl, err := m.hclReport(reportData)
	if err != nil {
		return nil, err
	}
	q, err := m.quote(nonce)
	if err != nil {
		return nil, err
	}
	vcek, err := m.SNP.VCEK()
	if err != nil {
		return nil, err
	}
	return json.Marshal(azure.Evidence{Version: 2, HCLReport: hcl, Quote: q, VCEK: vcek})
}

func (m *AzureSNPMachine) hclReport(reportData [64]byte) ([]byte, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	runtime, err := json.Marshal(map[string]any{
		"keys": []map[string]any{{"kid": azure.AKKeyID, "key_ops": []string{"sign"}, "kty": "RSA",
			"e": b64(big.NewInt(int64(m.ak.E)).Bytes()), "n": b64(m.ak.N.Bytes())}},
		"vm-configuration": map[string]any{"console-enabled": false, "secure-boot": true, "tpm-enabled": true, "vmUniqueId": m.Name()},
		"user-data":        hex.EncodeToString(reportData[:]),
	})
	if err != nil {
		return nil, err
	}
	var rd [64]byte
	d := sha256.Sum256(runtime)
	copy(rd[:], d[:])
	snp, err := m.SNP.Report(rd)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	out := []byte("HCLA")
	out = le.AppendUint32(out, 1)                                   // version
	out = le.AppendUint32(out, uint32(32+len(snp)+20+len(runtime))) // report size
	out = le.AppendUint32(out, 2)                                   // request type
	out = append(out, make([]byte, 16)...)                          // status, reserved
	out = append(out, snp...)
	for _, v := range []uint32{uint32(20 + len(runtime)), 1, azure.ReportTypeSNP, 1 /* SHA-256 */, uint32(len(runtime))} {
		out = le.AppendUint32(out, v)
	}
	out = append(out, runtime...)
	return append(out, make([]byte, max(0, 2600-len(out)))...), nil // the NV index is 2600 bytes
}

func (m *AzureSNPMachine) quote(nonce []byte) (azure.Quote, error) {
	h := sha256.New()
	var pcrs [][]byte
	for _, p := range m.pcrs {
		h.Write(p)
		pcrs = append(pcrs, p)
	}
	att := tpm2.TPMSAttest{
		Magic:           tpm2.TPMGeneratedValue,
		Type:            tpm2.TPMSTAttestQuote,
		QualifiedSigner: tpm2.TPM2BName{Buffer: append([]byte{0, 0x0b}, derive(m.Name(), "ak-name", 32)...)},
		ExtraData:       tpm2.TPM2BData{Buffer: nonce},
		ClockInfo:       tpm2.TPMSClockInfo{Clock: 1000, Safe: true},
		Attested: tpm2.NewTPMUAttest(tpm2.TPMSTAttestQuote, &tpm2.TPMSQuoteInfo{
			PCRSelect: tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMAlgSHA256, PCRSelect: []byte{0xff, 0xff, 0xff}}}},
			PCRDigest: tpm2.TPM2BDigest{Buffer: h.Sum(nil)},
		}),
	}
	msg := tpm2.Marshal(att)
	key := m.ak
	if m.otherAK {
		key = m.alt
	}
	d := sha256.Sum256(msg)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
	return azure.Quote{Message: msg, Signature: sig, PCRs: pcrs}, err
}
