// Package floor is a conformance floor checked besides the shared verifier
// (attest/verifier), written without it so a bug there cannot hide behind
// itself. From the raw evidence bytes alone, parsed by hand from the
// published layouts (Intel TDX DCAP quote v4/v5; AMD SEV-SNP ABI
// ATTESTATION_REPORT), it checks three things every confidential node and
// pod must satisfy whatever the policy says: the TEE type is the one claimed,
// the guest is not a debug guest, and REPORT_DATA is exactly what the caller
// asked for. It verifies no signature: that stays the verifier's job; the
// floor catches a verifier that says pass without looking.
package floor

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// TEE names, as in api/teename (kept literal: the floor imports nothing of
// the verification stack).
const (
	TDX = "tdx"
	SNP = "sev-snp"
)

// Intel TDX DCAP quote layout (quote v4: header then TD report body; quote
// v5: header, body descriptor {type u16, size u32}, body).
const (
	tdxHeaderSize     = 48
	tdxTEETypeOffset  = 4 // header: tee_type u32
	tdxTEEType        = 0x81
	tdxBody10Size     = 584 // TDX 1.0 TD report body
	tdxBody15Size     = 648 // TDX 1.5: + TEE_TCB_SVN2, MRSERVICETD
	tdxV5DescSize     = 6
	tdxAttrOffset     = 120 // TD_ATTRIBUTES within the body
	tdxMrConfigOffset = 184 // MRCONFIGID within the body
	tdxReportData     = 520 // REPORT_DATA within the body
	tdxAttrDebug      = 1 << 0
	tdxAttrSeptVE     = 1 << 28 // SEPT_VE_DISABLE
)

// AMD SEV-SNP ATTESTATION_REPORT layout (SEV-SNP ABI spec, table 22).
const (
	snpReportSize       = 0x4A0
	snpPolicyOffset     = 0x08
	snpReportDataOffset = 0x50
	snpHostDataOffset   = 0xC0
	snpPolicyDebug      = 1 << 19
)

// Facts are the fields the floor read, for messages and reports.
type Facts struct {
	TEE        string
	Version    int
	Debug      bool
	ReportData []byte
	// SeptVEDisable is the TDX TD_ATTRIBUTES bit (false on SNP).
	SeptVEDisable bool
	// ConfigID is TDX MRCONFIGID or SNP HOST_DATA: what binds init-data.
	ConfigID []byte
}

// Parse reads the floor's fields from raw evidence, which must be of the
// claimed TEE. It never panics on short or hostile input.
func Parse(tee string, raw []byte) (Facts, error) {
	switch tee {
	case TDX:
		return parseTDX(raw)
	case SNP:
		return parseSNP(raw)
	default:
		return Facts{}, fmt.Errorf("TEE %q is not a hardware TEE (want %s or %s)", tee, TDX, SNP)
	}
}

func parseTDX(raw []byte) (Facts, error) {
	if len(raw) < tdxHeaderSize {
		return Facts{}, fmt.Errorf("TDX quote: %d bytes, shorter than its %d-byte header", len(raw), tdxHeaderSize)
	}
	version := int(binary.LittleEndian.Uint16(raw[0:2]))
	if t := binary.LittleEndian.Uint32(raw[tdxTEETypeOffset:]); t != tdxTEEType {
		return Facts{}, fmt.Errorf("TDX quote: header TEE type 0x%x, want 0x%x (TDX)", t, tdxTEEType)
	}
	var body []byte
	switch version {
	case 4:
		body = raw[tdxHeaderSize:]
		if len(body) < tdxBody10Size {
			return Facts{}, fmt.Errorf("TDX quote v4: body is %d bytes, want %d", len(body), tdxBody10Size)
		}
	case 5:
		if len(raw) < tdxHeaderSize+tdxV5DescSize {
			return Facts{}, fmt.Errorf("TDX quote v5: %d bytes, no body descriptor", len(raw))
		}
		typ := binary.LittleEndian.Uint16(raw[tdxHeaderSize:])
		size := binary.LittleEndian.Uint32(raw[tdxHeaderSize+2:])
		want := map[uint16]uint32{2: tdxBody10Size, 3: tdxBody15Size}[typ]
		if want == 0 {
			return Facts{}, fmt.Errorf("TDX quote v5: body type %d is not a TD report (want 2 or 3)", typ)
		}
		body = raw[tdxHeaderSize+tdxV5DescSize:]
		if size != want || len(body) < int(want) {
			return Facts{}, fmt.Errorf("TDX quote v5: body type %d of size %d (%d bytes present), want %d", typ, size, len(body), want)
		}
	default:
		return Facts{}, fmt.Errorf("TDX quote: version %d, want 4 or 5", version)
	}
	attr := binary.LittleEndian.Uint64(body[tdxAttrOffset:])
	return Facts{TEE: TDX, Version: version, Debug: attr&tdxAttrDebug != 0, SeptVEDisable: attr&tdxAttrSeptVE != 0,
		ReportData: bytes.Clone(body[tdxReportData : tdxReportData+64]),
		ConfigID:   bytes.Clone(body[tdxMrConfigOffset : tdxMrConfigOffset+48])}, nil
}

func parseSNP(raw []byte) (Facts, error) {
	// A certificate table may follow the report.
	if len(raw) < snpReportSize {
		return Facts{}, fmt.Errorf("SEV-SNP report: %d bytes, want %d", len(raw), snpReportSize)
	}
	version := int(binary.LittleEndian.Uint32(raw[0:4]))
	if version < 2 || version > 5 {
		return Facts{}, fmt.Errorf("SEV-SNP report: version %d, want 2 to 5", version)
	}
	pol := binary.LittleEndian.Uint64(raw[snpPolicyOffset:])
	return Facts{TEE: SNP, Version: version, Debug: pol&snpPolicyDebug != 0,
		ReportData: bytes.Clone(raw[snpReportDataOffset : snpReportDataOffset+64]),
		ConfigID:   bytes.Clone(raw[snpHostDataOffset : snpHostDataOffset+32])}, nil
}

// Check is the floor: the evidence parses as the claimed TEE (one the run
// expects), is not a debug guest, and carries exactly the REPORT_DATA the
// caller asked for. The error says which rule failed and what was seen.
func Check(tee string, raw, wantReportData []byte) error {
	if len(wantReportData) != 64 {
		return fmt.Errorf("floor: the expected REPORT_DATA is %d bytes, want 64", len(wantReportData))
	}
	f, err := Parse(tee, raw)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	if f.Debug {
		if tee == TDX {
			return fmt.Errorf("floor: debug TD (TD_ATTRIBUTES.DEBUG set): its memory is open to the host")
		}
		return fmt.Errorf("floor: debug SEV-SNP guest (guest POLICY.DEBUG set): its memory is open to the host")
	}
	if !bytes.Equal(f.ReportData, wantReportData) {
		return fmt.Errorf("floor: REPORT_DATA %s… is not the %s… this check asked for: evidence minted for another request",
			hex.EncodeToString(f.ReportData[:8]), hex.EncodeToString(wantReportData[:8]))
	}
	return nil
}
