// Package tamper builds the bad variants of genuine evidence a platform's
// attestation service (cctest's, or a KBS) must refuse: bit flips across the
// signed region, another machine's evidence, the other TEE's type, and
// evidence of Trustee's `sample` TEE. A replayed nonce is the genuine
// evidence submitted twice; the caller does that (see Replay).
package tamper

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/cctest/cctest/api/teename"
	"github.com/cctest/cctest/attest/verifier"
)

// Variant is one bad submission and why it must be refused.
type Variant struct {
	Name     string
	Evidence verifier.Evidence
}

// Replay names the variant that resubmits accepted evidence under its used nonce.
const Replay = "replayed nonce"

// Signed-region offsets flipped (DCAP quote v4 / SEV-SNP report; a quote v5
// shifts the body by its 6-byte descriptor).
var (
	tdxFlips = []struct {
		name string
		off  int
	}{
		{"header (QE SVN)", 8}, {"TD_ATTRIBUTES", 48 + 120}, {"MRTD", 48 + 136}, {"MRCONFIGID", 48 + 184},
		{"RTMR1", 48 + 328 + 48}, {"RTMR2", 48 + 328 + 96}, {"REPORT_DATA", 48 + 520 + 63},
	}
	snpFlips = []struct {
		name string
		off  int
	}{
		{"POLICY", 0x08}, {"REPORT_DATA", 0x50 + 63}, {"MEASUREMENT", 0x90}, {"HOST_DATA", 0xC0},
		{"REPORTED_TCB", 0x180}, {"CHIP_ID", 0x1A0}, {"signature", 0x2A0},
	}
)

// Variants returns the battery for genuine evidence. other is another
// machine's genuine evidence (for a different nonce), nil when there is none.
// Bad input (unknown TEE, evidence too short to flip) is an error.
func Variants(genuine verifier.Evidence, other *verifier.Evidence, reportData [64]byte) ([]Variant, error) {
	var out []Variant
	flip := func(name string, off int) error {
		if off < 0 || off >= len(genuine.Raw) {
			return fmt.Errorf("tamper: %s evidence of %d bytes has no byte %d (%s)", genuine.TEE, len(genuine.Raw), off, name)
		}
		ev := clone(genuine)
		ev.Raw[off] ^= 0x01
		out = append(out, Variant{Name: fmt.Sprintf("bit flip in %s (byte %d)", name, off), Evidence: ev})
		return nil
	}
	var otherTEE string
	switch genuine.TEE {
	case teename.TDX:
		shift := 0
		if len(genuine.Raw) >= 2 && binary.LittleEndian.Uint16(genuine.Raw) == 5 {
			shift = 6
		}
		for _, f := range tdxFlips {
			off := f.off
			if off >= 48 {
				off += shift
			}
			if err := flip(f.name, off); err != nil {
				return nil, err
			}
		}
		// The quote signature follows the signed data's 4-byte length.
		if sig := 48 + shift + signedBodySize(genuine.Raw) + 4; sig > 0 {
			if err := flip("quote signature", sig); err != nil {
				return nil, err
			}
		}
		otherTEE = teename.SNP
	case teename.SNP:
		for _, f := range snpFlips {
			if err := flip(f.name, f.off); err != nil {
				return nil, err
			}
		}
		otherTEE = teename.TDX
	default:
		return nil, fmt.Errorf("tamper: no battery for TEE %q (want %s or %s)", genuine.TEE, teename.TDX, teename.SNP)
	}
	if other != nil {
		out = append(out, Variant{Name: "evidence of another machine (" + other.Source + ")", Evidence: clone(*other)})
	}
	swapped := clone(genuine)
	swapped.TEE = otherTEE
	out = append(out, Variant{Name: "claimed as " + otherTEE, Evidence: swapped})
	out = append(out, Variant{Name: "sample TEE", Evidence: Sample(reportData)})
	return out, nil
}

// Sample is evidence of Trustee's `sample` attester (no hardware, no
// signature) carrying the right REPORT_DATA: what a platform that forgot to
// disable the sample verifier would accept.
func Sample(reportData [64]byte) verifier.Evidence {
	raw, _ := json.Marshal(map[string]string{"svn": "1", "report_data": base64.StdEncoding.EncodeToString(reportData[:])})
	return verifier.Evidence{TEE: "sample", Raw: raw, Source: "sample attester"}
}

// signedBodySize is the TD report body size of a quote (v5: from its
// descriptor), 0 when unreadable.
func signedBodySize(raw []byte) int {
	if len(raw) < 54 {
		return 0
	}
	if binary.LittleEndian.Uint16(raw) == 5 {
		return int(binary.LittleEndian.Uint32(raw[50:]))
	}
	return 584
}

func clone(ev verifier.Evidence) verifier.Evidence {
	ev.Raw = bytes.Clone(ev.Raw)
	ev.CertTable = bytes.Clone(ev.CertTable)
	ev.EventLog = bytes.Clone(ev.EventLog)
	return ev
}
