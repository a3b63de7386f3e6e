package azure

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// QuoteInfo is what a verified TPM quote says.
type QuoteInfo struct {
	// ExtraData is the qualifying data the quote was made over (the nonce).
	ExtraData []byte
	// PCRs maps each quoted SHA-256 PCR index to its value.
	PCRs map[int][]byte
	// Selected lists the quoted PCR indices in order.
	Selected []int
}

// ParseQuote parses the TPMS_ATTEST of a quote and matches the supplied PCR
// values against its selection and digest. It checks no signature.
func ParseQuote(q Quote) (info *QuoteInfo, err error) {
	defer func() { // go-tpm's reflection unmarshalling must not take the verifier down
		if r := recover(); r != nil {
			info, err = nil, fmt.Errorf("TPM quote: malformed TPMS_ATTEST (%v)", r)
		}
	}()
	att, err := tpm2.Unmarshal[tpm2.TPMSAttest](q.Message)
	if err != nil {
		return nil, fmt.Errorf("TPM quote: malformed TPMS_ATTEST: %v", err)
	}
	if att.Type != tpm2.TPMSTAttestQuote {
		return nil, fmt.Errorf("TPM quote: TPMS_ATTEST type 0x%x, want TPM_ST_ATTEST_QUOTE (0x%x)", uint16(att.Type), uint16(tpm2.TPMSTAttestQuote))
	}
	if !bytes.Equal(tpm2.Marshal(att), q.Message) {
		return nil, errors.New("TPM quote: TPMS_ATTEST has trailing bytes")
	}
	qi, err := att.Attested.Quote()
	if err != nil {
		return nil, fmt.Errorf("TPM quote: %v", err)
	}
	info = &QuoteInfo{ExtraData: att.ExtraData.Buffer, PCRs: map[int][]byte{}}
	for _, sel := range qi.PCRSelect.PCRSelections {
		if sel.Hash != tpm2.TPMAlgSHA256 {
			return nil, fmt.Errorf("TPM quote: selects PCR bank 0x%x; only SHA-256 (0x%x) is supported", uint16(sel.Hash), uint16(tpm2.TPMAlgSHA256))
		}
		for i, b := range sel.PCRSelect {
			for bit := 0; bit < 8; bit++ {
				if b&(1<<bit) != 0 {
					info.Selected = append(info.Selected, i*8+bit)
				}
			}
		}
	}
	if len(q.PCRs) != len(info.Selected) {
		return nil, fmt.Errorf("TPM quote: selects %d PCRs, %d values supplied", len(info.Selected), len(q.PCRs))
	}
	h := sha256.New()
	for i, v := range q.PCRs {
		if len(v) != sha256.Size {
			return nil, fmt.Errorf("TPM quote: PCR %d value is %d bytes, want 32", info.Selected[i], len(v))
		}
		if _, dup := info.PCRs[info.Selected[i]]; dup {
			return nil, fmt.Errorf("TPM quote: PCR %d selected twice", info.Selected[i])
		}
		h.Write(v)
		info.PCRs[info.Selected[i]] = v
	}
	if !bytes.Equal(h.Sum(nil), qi.PCRDigest.Buffer) {
		return nil, fmt.Errorf("TPM quote: the PCR values do not match the quote's PCR digest %x", qi.PCRDigest.Buffer)
	}
	return info, nil
}

// VerifyQuoteSignature checks the quote's RSASSA-PKCS1-v1_5 SHA-256
// signature (what Azure's vTPM AK produces) with the AK.
func VerifyQuoteSignature(q Quote, ak *rsa.PublicKey) error {
	d := sha256.Sum256(q.Message)
	if err := rsa.VerifyPKCS1v15(ak, crypto.SHA256, d[:], q.Signature); err != nil {
		return fmt.Errorf("TPM quote signature does not verify with the AK (%s) from the runtime data: %v", AKKeyID, err)
	}
	return nil
}
