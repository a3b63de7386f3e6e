package azure

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
)

// HCL report layout (Azure paravisor, "HCLA"): a 32-byte header, the
// hardware report area (1184 bytes: an SNP report, or a TD report padded),
// then the IGVM request data: data size, version, report type, hash type,
// variable-data size (5 × u32) and the variable data (the runtime-data JSON).
const (
	hclSignature   = "HCLA"
	hclHeaderSize  = 32
	hwReportSize   = 1184
	igvmHeaderSize = 20
	// MinHCLReportSize is the smallest HCL report with empty runtime data.
	MinHCLReportSize = hclHeaderSize + hwReportSize + igvmHeaderSize
	maxRuntimeData   = 64 << 10
)

// IGVM report types (which hardware report the HCL report wraps).
const (
	ReportTypeSNP = 2
	ReportTypeTVM = 3
	ReportTypeTDX = 4
)

var reportTypeNames = map[uint32]string{ReportTypeSNP: "SEV-SNP", ReportTypeTVM: "TVM", ReportTypeTDX: "TDX"}

// IGVM hash types: how the runtime data is hashed into REPORT_DATA.
const (
	hashSHA256 = 1
	hashSHA384 = 2
	hashSHA512 = 3
)

// HCLReport is a parsed HCL report.
type HCLReport struct {
	ReportType uint32
	HashType   uint32
	// HWReport is the hardware report area (1184 bytes).
	HWReport []byte
	// RuntimeData is the variable data: the runtime-data JSON, exactly as
	// hashed into REPORT_DATA.
	RuntimeData []byte
}

// ParseHCLReport parses an HCL report as read from vTPM NV index 0x01400001.
// It checks the layout only; nothing in it is trusted until the SNP report
// verifies and its REPORT_DATA matches RuntimeDataDigest.
func ParseHCLReport(b []byte) (*HCLReport, error) {
	if len(b) < MinHCLReportSize {
		return nil, fmt.Errorf("HCL report truncated: %d bytes, at least %d needed (header, hardware report, IGVM request data)", len(b), MinHCLReportSize)
	}
	if string(b[:4]) != hclSignature {
		return nil, fmt.Errorf("not an HCL report: signature %q, want %q", b[:4], hclSignature)
	}
	igvm := b[hclHeaderSize+hwReportSize:]
	le := binary.LittleEndian
	r := &HCLReport{
		ReportType: le.Uint32(igvm[8:12]),
		HashType:   le.Uint32(igvm[12:16]),
		HWReport:   b[hclHeaderSize : hclHeaderSize+hwReportSize],
	}
	varSize := le.Uint32(igvm[16:20])
	if varSize > maxRuntimeData || int(varSize) > len(igvm)-igvmHeaderSize {
		return nil, fmt.Errorf("HCL report truncated: runtime data of %d bytes announced, %d present", varSize, len(igvm)-igvmHeaderSize)
	}
	r.RuntimeData = igvm[igvmHeaderSize : igvmHeaderSize+int(varSize)]
	return r, nil
}

// ReportTypeName names the wrapped hardware report.
func (r *HCLReport) ReportTypeName() string {
	if n, ok := reportTypeNames[r.ReportType]; ok {
		return n
	}
	return fmt.Sprintf("unknown type %d", r.ReportType)
}

// SNPReport returns the SEV-SNP report, or an error naming the report type.
func (r *HCLReport) SNPReport() ([]byte, error) {
	if r.ReportType != ReportTypeSNP {
		return nil, fmt.Errorf("HCL report wraps a %s report (IGVM report type %d), not SEV-SNP (type %d)", r.ReportTypeName(), r.ReportType, ReportTypeSNP)
	}
	return r.HWReport, nil
}

// RuntimeDataDigest is what the hardware report's REPORT_DATA must start
// with: the runtime data hashed with the HCL report's hash type (SHA-256 on
// Azure today), followed by zeros.
func (r *HCLReport) RuntimeDataDigest() ([]byte, error) {
	switch r.HashType {
	case hashSHA256:
		d := sha256.Sum256(r.RuntimeData)
		return d[:], nil
	case hashSHA384:
		d := sha512.Sum384(r.RuntimeData)
		return d[:], nil
	case hashSHA512:
		d := sha512.Sum512(r.RuntimeData)
		return d[:], nil
	}
	return nil, fmt.Errorf("HCL report: unknown runtime-data hash type %d (want 1 SHA-256, 2 SHA-384 or 3 SHA-512)", r.HashType)
}

// RuntimeData is the parsed runtime-data JSON.
type RuntimeData struct {
	Keys []JWK `json:"keys"`
	// UserData is the hex report data the guest asked the HCL report for
	// (NV index 0x01400002); all zeros when none was written.
	UserData        string          `json:"user-data"`
	VMConfiguration json.RawMessage `json:"vm-configuration"`
}

// JWK is one key of the runtime data.
type JWK struct {
	Kid string `json:"kid"`
	Kty string `json:"kty"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// AKKeyID is the runtime-data key ID of the vTPM attestation key.
const AKKeyID = "HCLAkPub"

// ParseRuntimeData parses the runtime-data JSON.
func ParseRuntimeData(b []byte) (*RuntimeData, error) {
	var rd RuntimeData
	if err := json.Unmarshal(b, &rd); err != nil {
		return nil, fmt.Errorf("runtime data is not JSON: %v", err)
	}
	return &rd, nil
}

// AK returns the attestation key the runtime data carries (HCLAkPub).
func (rd *RuntimeData) AK() (*rsa.PublicKey, error) {
	for _, k := range rd.Keys {
		if k.Kid != AKKeyID {
			continue
		}
		if k.Kty != "RSA" {
			return nil, fmt.Errorf("runtime data: %s is a %q key, want RSA", AKKeyID, k.Kty)
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("runtime data: %s has a malformed modulus or exponent", AKKeyID)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < 2048 || pub.E < 3 {
			return nil, fmt.Errorf("runtime data: %s is a %d-bit RSA key with exponent %d (want >= 2048 bits)", AKKeyID, pub.N.BitLen(), pub.E)
		}
		return pub, nil
	}
	return nil, fmt.Errorf("runtime data carries no %s key (the vTPM attestation key)", AKKeyID)
}

// UserDataBytes decodes user-data (nil if absent or not hex).
func (rd *RuntimeData) UserDataBytes() []byte {
	b, err := hex.DecodeString(rd.UserData)
	if err != nil {
		return nil
	}
	return b
}
