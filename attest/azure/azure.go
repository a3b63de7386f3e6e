// Package azure reads and checks Azure confidential VM evidence
// ("az-snp-vtpm", as Trustee names it). Azure CVMs hide the SEV-SNP device
// behind a paravisor: the SNP report is read from the vTPM as the "HCL
// report", whose REPORT_DATA binds a runtime-data JSON that carries the
// vTPM attestation key (AK); a TPM2 quote signed by that AK over the
// verifier's nonce gives freshness and the PCRs, where Azure measures the OS.
//
// This package parses and checks the Azure-specific parts (HCL report,
// runtime data, AK, TPM quote); the SNP report inside is verified by
// attest/verifier with go-sev-guest, as any SNP report.
package azure

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// TEESNP names Azure SEV-SNP vTPM evidence (Trustee's tee name).
const TEESNP = "az-snp-vtpm"

// Evidence is Trustee's az-snp-vtpm evidence: the HCL report read from the
// vTPM NV index, a TPM2 quote by the AK and the VCEK (may be empty: the
// verifier can fetch it from AMD KDS).
type Evidence struct {
	Version   int
	HCLReport []byte
	Quote     Quote
	VCEK      []byte // DER or PEM
}

// Quote is a TPM2_Quote: the marshalled TPMS_ATTEST (message), the raw
// RSASSA signature over it and the SHA-256 PCR values it covers, in
// selection order.
type Quote struct {
	Message   []byte
	Signature []byte
	PCRs      [][]byte
}

// Trustee's JSON: v1/v2 carry hex quote fields and URL-safe base64 report
// and VCEK; v0 (no version) carries byte arrays and a PEM VCEK.
type quoteJSON struct {
	Signature hexBytes   `json:"signature"`
	Message   hexBytes   `json:"message"`
	PCRs      []hexBytes `json:"pcrs"`
}

type evidenceJSON struct {
	Version   *int       `json:"version"`
	TPMQuote  *quoteJSON `json:"tpm_quote,omitempty"`
	HCLReport b64url     `json:"hcl_report,omitempty"`
	VCEK      b64url     `json:"vcek,omitempty"`
}

type quoteV0 struct {
	Signature byteList   `json:"signature"`
	Message   byteList   `json:"message"`
	PCRs      []byteList `json:"pcrs"`
}

type evidenceV0 struct {
	Quote  *quoteV0 `json:"quote"`
	Report byteList `json:"report"`
	VCEK   string   `json:"vcek"`
}

// IsEvidenceJSON reports whether data looks like az-snp-vtpm evidence JSON
// (any version), so callers can route it here.
func IsEvidenceJSON(data []byte) bool {
	var keys map[string]json.RawMessage
	if json.Unmarshal(bytes.TrimSpace(data), &keys) != nil {
		return false
	}
	_, q2 := keys["tpm_quote"]
	_, r2 := keys["hcl_report"]
	_, q0 := keys["quote"]
	_, r0 := keys["report"]
	return (q2 && r2) || (q0 && r0)
}

// ParseEvidence reads Trustee's az-snp-vtpm evidence JSON, v0, v1 or v2.
func ParseEvidence(data []byte) (Evidence, error) {
	data = bytes.TrimSpace(data)
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return Evidence{}, fmt.Errorf("az-snp-vtpm evidence: %v", err)
	}
	if head.Version != nil {
		if *head.Version < 1 || *head.Version > 2 {
			return Evidence{}, fmt.Errorf("az-snp-vtpm evidence: version %d (want 1 or 2)", *head.Version)
		}
		var v2 evidenceJSON
		if err := json.Unmarshal(data, &v2); err != nil {
			return Evidence{}, fmt.Errorf("az-snp-vtpm evidence v%d: %v", *head.Version, err)
		}
		if v2.TPMQuote == nil || len(v2.HCLReport) == 0 {
			return Evidence{}, errors.New("az-snp-vtpm evidence: tpm_quote and hcl_report are required")
		}
		q := Quote{Message: v2.TPMQuote.Message, Signature: v2.TPMQuote.Signature}
		for _, p := range v2.TPMQuote.PCRs {
			q.PCRs = append(q.PCRs, p)
		}
		return Evidence{Version: *v2.Version, HCLReport: v2.HCLReport, Quote: q, VCEK: v2.VCEK}, nil
	}
	var v0 evidenceV0
	if err := json.Unmarshal(data, &v0); err != nil {
		return Evidence{}, fmt.Errorf("az-snp-vtpm evidence (v0): %v", err)
	}
	if v0.Quote == nil || len(v0.Report) == 0 {
		return Evidence{}, errors.New("az-snp-vtpm evidence: quote and report are required")
	}
	q := Quote{Message: v0.Quote.Message, Signature: v0.Quote.Signature}
	for _, p := range v0.Quote.PCRs {
		q.PCRs = append(q.PCRs, p)
	}
	return Evidence{HCLReport: v0.Report, Quote: q, VCEK: []byte(v0.VCEK)}, nil
}

// MarshalJSON writes the evidence as Trustee's v2 JSON, what the
// guest-components attester sends.
func (e Evidence) MarshalJSON() ([]byte, error) {
	q := quoteJSON{Signature: e.Quote.Signature, Message: e.Quote.Message}
	for _, p := range e.Quote.PCRs {
		q.PCRs = append(q.PCRs, p)
	}
	v := e.Version
	if v == 0 {
		v = 2
	}
	return json.Marshal(evidenceJSON{Version: &v, TPMQuote: &q, HCLReport: e.HCLReport, VCEK: e.VCEK})
}

type hexBytes []byte

func (h hexBytes) MarshalJSON() ([]byte, error) { return json.Marshal(hex.EncodeToString(h)) }

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	d, err := hex.DecodeString(s)
	*h = d
	return err
}

// b64url is URL-safe base64, padded or not (serde_with writes it padded).
type b64url []byte

func (b b64url) MarshalJSON() ([]byte, error) {
	return json.Marshal(base64.URLEncoding.EncodeToString(b))
}

func (b *b64url) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	d, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	*b = d
	return err
}

// byteList is a JSON array of numbers 0-255 (Rust's Vec<u8> in serde).
type byteList []byte

func (l *byteList) UnmarshalJSON(data []byte) error {
	var ns []int
	if err := json.Unmarshal(data, &ns); err != nil {
		return err
	}
	out := make([]byte, len(ns))
	for i, n := range ns {
		if n < 0 || n > 255 {
			return fmt.Errorf("byte %d out of range: %d", i, n)
		}
		out[i] = byte(n)
	}
	*l = out
	return nil
}
