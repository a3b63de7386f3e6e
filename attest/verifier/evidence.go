package verifier

import (
	"bytes"
	"crypto/sha512"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cctest/cctest/api/teename"
	"github.com/cctest/cctest/attest/azure"
	"github.com/cctest/cctest/attest/policy"
)

// Evidence is what a TEE produced, plus what a verifier needs that the
// evidence may lack. Byte fields are base64 in JSON.
type Evidence struct {
	// TEE is "tdx" or "sev-snp".
	TEE string `json:"tee"`
	// Raw is the TDX quote (v4 or v5), or the SNP report (1184 bytes), optionally
	// followed by the extended certificate table.
	Raw []byte `json:"raw"`
	// CertTable is the SNP certificate table when not appended to Raw.
	CertTable []byte `json:"certTable,omitempty"`
	// VCEK is the SNP VCEK certificate (DER or PEM) when the report comes
	// without a certificate table.
	VCEK []byte `json:"vcek,omitempty"`
	// VLEK is the SNP VLEK certificate (DER or PEM) of a VLEK-signed report
	// (AWS) that comes without a certificate table. Unlike a VCEK it cannot
	// be fetched from AMD KDS: the cloud provider hands it out.
	VLEK []byte `json:"vlek,omitempty"`
	// Nonce is the REPORT_DATA the evidence was requested with. Informational:
	// the verifier compares against the caller's expectation, never this.
	Nonce []byte `json:"nonce,omitempty"`
	// EventLog is the TD's CCEL event log (TCG2 crypto-agile format, the
	// ACPI CCEL table's log area; Trustee's "cc_eventlog"). When present it
	// is replayed and must equal the quote's RTMRs.
	EventLog []byte `json:"eventLog,omitempty"`
	// Source says where the evidence came from ("configfs-tsm", "/dev/tdx_guest",
	// "simulated:<machine>").
	Source string `json:"source,omitempty"`
}

// ReportDataSize is the size of TDX / SNP REPORT_DATA.
const ReportDataSize = 64

// BindReportData derives REPORT_DATA from a verifier nonce and a context
// (e.g. "pod:<uid>"): SHA-512("cctest-report-data/v1" || 0 || len(nonce) ||
// nonce || context). Binding the context means evidence requested for one pod
// cannot be replayed for another with the same nonce.
func BindReportData(nonce []byte, context string) [64]byte {
	h := sha512.New()
	h.Write([]byte("cctest-report-data/v1\x00"))
	_ = binary.Write(h, binary.BigEndian, uint32(len(nonce)))
	h.Write(nonce)
	h.Write([]byte(context))
	var out [64]byte
	copy(out[:], h.Sum(nil))
	return out
}

// ReportData pads a value of at most 64 bytes to REPORT_DATA, the way the
// guest devices do.
func ReportData(v []byte) ([64]byte, error) {
	var out [64]byte
	if len(v) > ReportDataSize {
		return out, fmt.Errorf("REPORT_DATA is at most %d bytes, got %d", ReportDataSize, len(v))
	}
	copy(out[:], v)
	return out, nil
}

// DetectTEE guesses the TEE from raw evidence bytes ("" if neither).
func DetectTEE(raw []byte) string {
	if len(raw) >= 8 && (binary.LittleEndian.Uint16(raw[0:2]) == 4 || binary.LittleEndian.Uint16(raw[0:2]) == 5) &&
		binary.LittleEndian.Uint32(raw[4:8]) == 0x81 {
		return teename.TDX
	}
	if len(raw) >= snpReportSize {
		if v := binary.LittleEndian.Uint32(raw[0:4]); v >= 2 && v <= 5 {
			return teename.SNP
		}
	}
	return ""
}

const snpReportSize = 0x4A0

// ParseEvidence reads evidence saved as JSON (an Evidence object) or as raw
// bytes (a TDX quote, or an SNP report with or without certificate table).
func ParseEvidence(data []byte) (Evidence, error) {
	trimmed := bytes.TrimSpace(data)
	if azure.IsEvidenceJSON(trimmed) { // Trustee's az-snp-vtpm JSON, kept whole in Raw
		return Evidence{TEE: policy.AzureSNPTEE, Raw: bytes.Clone(trimmed)}, nil
	}
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var ev Evidence
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			return Evidence{}, fmt.Errorf("evidence JSON: %v", err)
		}
		if ev.TEE == "" {
			ev.TEE = DetectTEE(ev.Raw)
		}
		if ev.TEE != teename.TDX && ev.TEE != teename.SNP && ev.TEE != policy.AzureSNPTEE {
			return Evidence{}, fmt.Errorf("evidence JSON: tee must be %q, %q or %q, got %q", teename.TDX, teename.SNP, policy.AzureSNPTEE, ev.TEE)
		}
		if len(ev.Raw) == 0 {
			return Evidence{}, errors.New("evidence JSON: raw is empty")
		}
		return ev, nil
	}
	tee := DetectTEE(data)
	if tee == "" {
		return Evidence{}, fmt.Errorf("not a TDX quote (v4 or v5) or an SEV-SNP report (%d bytes)", len(data))
	}
	return Evidence{TEE: tee, Raw: bytes.Clone(data)}, nil
}

// safely runs a library parser; hostile input must produce an error, never
// a panic (the libraries' parsers index fields before checking every size).
func safely[T any](what string, f func() (T, error)) (out T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: malformed input (%v)", what, r)
		}
	}()
	return f()
}

// safeErr is safely for calls that only return an error.
func safeErr(what string, f func() error) error {
	_, err := safely(what, func() (struct{}, error) { return struct{}{}, f() })
	return err
}
