package kbs

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cctest/cctest/api/teename"
	"github.com/cctest/cctest/attest/verifier"
)

// KBSTee maps cctest's TEE name (verifier.Evidence.TEE) to the kbs-types
// Tee value: "tdx" → "tdx", "sev-snp" → "snp".
func KBSTee(tee string) (string, error) {
	switch tee {
	case teename.TDX:
		return TeeTDX, nil
	case teename.SNP:
		return TeeSNP, nil
	}
	return "", fmt.Errorf("TEE %q has no KBS evidence converter (have %s and %s)", tee, teename.TDX, teename.SNP)
}

// CctestTee is the reverse of KBSTee.
func CctestTee(kbsTee string) (string, error) {
	switch kbsTee {
	case TeeTDX:
		return teename.TDX, nil
	case TeeSNP:
		return teename.SNP, nil
	}
	return "", fmt.Errorf("KBS tee %q has no evidence converter (have %s and %s)", kbsTee, TeeTDX, TeeSNP)
}

// TDXEvidence is guest-components' TDX primary_evidence
// (attester/src/tdx/mod.rs TdxEvidence): the quote and the event log in
// standard base64 with padding. serde writes the members in this order and
// writes a missing event log as null.
type TDXEvidence struct {
	CCEventlog *string `json:"cc_eventlog"`
	Quote      string  `json:"quote"`
}

// elEndFlag is the 8 bytes of 0xFF the TDX attester appends to the event
// log it reads (attester/src/utils.rs EL_END_FLAG).
var elEndFlag = bytes.Repeat([]byte{0xFF}, 8)

// SNPEvidence is cctest's SEV-SNP primary_evidence. It is NOT the shape
// guest-components' SNP attester emits: that one is serde's form of the sev
// crate's AttestationReport struct (every field as JSON numbers and arrays,
// TCB layouts differing per product line and crate version) plus
// Vec<CertTableEntry>, too large to reproduce faithfully here. This shape
// carries the same content as bytes: the 1184-byte report and the GHCB
// extended-request certificate table (or a VCEK / VLEK when there is no
// table), all standard base64. A real Trustee will not parse it; cctest's
// KBS simulator does.
type SNPEvidence struct {
	Report    string `json:"cctest_snp_report"`
	CertTable string `json:"cert_table,omitempty"`
	VCEK      string `json:"vcek,omitempty"`
	VLEK      string `json:"vlek,omitempty"`
}

// snpReportSize is the SEV-SNP ATTESTATION_REPORT size.
const snpReportSize = 0x4A0

var std = base64.StdEncoding

// PrimaryEvidence converts cctest evidence to the KBS primary_evidence of
// its TEE (TDX: exactly as the guest-components TDX attester emits it).
func PrimaryEvidence(ev verifier.Evidence) (json.RawMessage, error) {
	switch ev.TEE {
	case teename.TDX:
		if len(ev.Raw) == 0 {
			return nil, errors.New("TDX evidence without a quote")
		}
		out := TDXEvidence{Quote: std.EncodeToString(ev.Raw)}
		if len(ev.EventLog) > 0 {
			log := bytes.Clone(ev.EventLog)
			if !bytes.HasSuffix(log, elEndFlag) {
				log = append(log, elEndFlag...)
			}
			s := std.EncodeToString(log)
			out.CCEventlog = &s
		}
		return json.Marshal(out)
	case teename.SNP:
		if len(ev.Raw) < snpReportSize {
			return nil, fmt.Errorf("SEV-SNP evidence of %d bytes, a report is %d", len(ev.Raw), snpReportSize)
		}
		out := SNPEvidence{Report: std.EncodeToString(ev.Raw[:snpReportSize])}
		table := ev.Raw[snpReportSize:]
		if len(table) == 0 {
			table = ev.CertTable
		}
		if len(table) > 0 {
			out.CertTable = std.EncodeToString(table)
		}
		if len(ev.VCEK) > 0 {
			out.VCEK = std.EncodeToString(ev.VCEK)
		}
		if len(ev.VLEK) > 0 {
			out.VLEK = std.EncodeToString(ev.VLEK)
		}
		return json.Marshal(out)
	}
	_, err := KBSTee(ev.TEE)
	return nil, err
}

// EvidenceFromPrimary converts a KBS primary_evidence of the KBS tee to
// cctest evidence for attest/verifier.
func EvidenceFromPrimary(kbsTee string, primary json.RawMessage) (verifier.Evidence, error) {
	strict := func(v any) error {
		dec := json.NewDecoder(bytes.NewReader(primary))
		dec.DisallowUnknownFields()
		return dec.Decode(v)
	}
	switch kbsTee {
	case TeeTDX:
		var te TDXEvidence
		if err := strict(&te); err != nil {
			return verifier.Evidence{}, fmt.Errorf("tdx primary_evidence: want {\"cc_eventlog\": base64|null, \"quote\": base64}: %v", err)
		}
		quote, err := std.DecodeString(te.Quote)
		if err != nil || len(quote) == 0 {
			return verifier.Evidence{}, fmt.Errorf("tdx primary_evidence: quote is not standard base64 (%v)", err)
		}
		ev := verifier.Evidence{TEE: teename.TDX, Raw: quote, Source: "kbs primary_evidence"}
		if te.CCEventlog != nil {
			if ev.EventLog, err = std.DecodeString(*te.CCEventlog); err != nil {
				return verifier.Evidence{}, fmt.Errorf("tdx primary_evidence: cc_eventlog is not standard base64 (%v)", err)
			}
		}
		return ev, nil
	case TeeSNP:
		var se SNPEvidence
		if err := strict(&se); err != nil {
			return verifier.Evidence{}, fmt.Errorf("snp primary_evidence: want cctest's {\"cctest_snp_report\": base64, \"cert_table\"?, \"vcek\"?, \"vlek\"?} "+
				"(the sev crate's serde form of guest-components is not supported): %v", err)
		}
		ev := verifier.Evidence{TEE: teename.SNP, Source: "kbs primary_evidence"}
		var err error
		for _, f := range []struct {
			name string
			in   string
			out  *[]byte
		}{{"cctest_snp_report", se.Report, &ev.Raw}, {"cert_table", se.CertTable, &ev.CertTable}, {"vcek", se.VCEK, &ev.VCEK}, {"vlek", se.VLEK, &ev.VLEK}} {
			if f.in == "" {
				continue
			}
			if *f.out, err = std.DecodeString(f.in); err != nil {
				return verifier.Evidence{}, fmt.Errorf("snp primary_evidence: %s is not standard base64 (%v)", f.name, err)
			}
		}
		if len(ev.Raw) != snpReportSize {
			return verifier.Evidence{}, fmt.Errorf("snp primary_evidence: cctest_snp_report is %d bytes, a report is %d", len(ev.Raw), snpReportSize)
		}
		return ev, nil
	}
	_, err := CctestTee(kbsTee)
	return verifier.Evidence{}, err
}
