// Package policy is the attestation policy a platform team writes: which TEE
// types a node may use, which measurements are allowed, minimum TCB levels,
// and which roots of trust evidence must chain to.
//
// One file may allow TDX, SEV-SNP or both (one section per TEE). Debug
// guests and migratable TDs are always forbidden; there is no switch to
// allow them. Simulated (test) roots are trusted only when a policy names
// them in trustRoots, so simulated evidence can never pass a hardware policy.
package policy

import (
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/cctest/cctest/api/teename"
)

// APIVersion and Kind identify a policy document.
const (
	APIVersion = "cctest.dev/v1alpha1"
	Kind       = "AttestationPolicy"
)

// Trust root names a policy may list in trustRoots.
const (
	// RootsVendor is Intel's SGX root CA and AMD's ARK/ASK per product line.
	RootsVendor = "vendor"
	// RootsSimulated is the cctest test PKI used by simulators/tee. Never
	// trusted unless named explicitly.
	RootsSimulated = "simulated"
)

// Nonce binding modes.
const (
	// NonceRequired: REPORT_DATA must equal the expected value given by the
	// verifier's caller; verification without one fails.
	NonceRequired = "required"
	// NonceOptional: checked when the caller supplies an expected value,
	// skipped (and recorded as skipped) otherwise.
	NonceOptional = "optional"
)

// Policy is one attestation policy document.
type Policy struct {
	APIVersion  string `json:"apiVersion"`
	Kind        string `json:"kind"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`

	// TrustRoots lists the roots evidence may chain to: "vendor" (default)
	// and/or "simulated".
	TrustRoots []string `json:"trustRoots,omitempty"`
	// Nonce is "required" (default) or "optional".
	Nonce string `json:"nonce,omitempty"`
	// Collateral controls TCB-info / CRL checks against Intel PCS / AMD KDS
	// (or their fakes, or a recorded directory).
	Collateral Collateral `json:"collateral,omitempty"`

	// TDX allows Intel TDX evidence when present.
	TDX *TDX `json:"tdx,omitempty"`
	// SNP allows AMD SEV-SNP evidence when present.
	SNP *SNP `json:"snp,omitempty"`
	// Azure, with snp, allows Azure SEV-SNP confidential VM evidence
	// (az-snp-vtpm); its SNP report is checked under the snp section.
	Azure *Azure `json:"azure,omitempty"`
}

// Azure is the Azure confidential VM (vTPM) section.
type Azure struct {
	// PCRs pins vTPM SHA-256 PCR values. On Azure CVMs the SNP MEASUREMENT
	// covers only Azure's paravisor firmware; the OS (boot loader, kernel,
	// command line) is measured into the vTPM PCRs, so pin them to attest it.
	PCRs []AzurePCR `json:"pcrs,omitempty"`
}

// AzurePCR is one pinned PCR.
type AzurePCR struct {
	Index  int    `json:"index"`
	SHA256 string `json:"sha256"`
}

// AzureSNPTEE is the evidence type of Azure SEV-SNP CVMs (Trustee's name).
const AzureSNPTEE = "az-snp-vtpm"

// Collateral selects the online (or replayed) checks.
type Collateral struct {
	// Verify fetches and verifies TDX TCB info / QE identity (Intel PCS).
	Verify bool `json:"verify,omitempty"`
	// CheckRevocations fetches CRLs (Intel PCK/root CRL, AMD ARK CRL) and
	// rejects revoked certificates. Implies Verify for TDX.
	CheckRevocations bool `json:"checkRevocations,omitempty"`
	// AllowStale accepts collateral (TCB info, QE identity, CRLs) whose
	// nextUpdate has passed, as a replay from --collateral-dir may be.
	// Default false: stale collateral fails the "collateral-fresh" check,
	// naming the artefact and its nextUpdate date. Stale collateral is
	// always reported on the verdict.
	AllowStale bool `json:"allowStale,omitempty"`
}

// TDX is the Intel TDX section.
type TDX struct {
	// AllowedMeasurements: evidence passes when MRTD and every RTMR given in
	// one entry match.
	AllowedMeasurements []TDXMeasurement `json:"allowedMeasurements"`
	// AcceptTcbStatuses lists the Intel TCB statuses (from PCS TCB info for
	// the platform and TDX module, and from the QE identity) that pass; it
	// needs collateral.verify. Default [UpToDate] only. Revoked is never
	// accepted. See TCBStatuses for the names.
	AcceptTcbStatuses []string `json:"acceptTcbStatuses,omitempty"`
	// WarnUpcomingOutOfDate adds a verdict note when the platform's status
	// under Intel's EARLY TCB info (the next TCB recovery, before its
	// effective date) is one acceptTcbStatuses would reject. The forecast
	// itself is always reported with collateral.verify and never fails a
	// verdict; this switch only turns it into a warning. Needs
	// collateral.verify.
	WarnUpcomingOutOfDate bool `json:"warnUpcomingOutOfDate,omitempty"`
	// MinimumTeeTcbSvn is an OPTIONAL 16-byte TEE_TCB_SVN floor (hex),
	// compared per component. Prefer acceptTcbStatuses: byte floors copied
	// from one machine reject other, up-to-date machines.
	MinimumTeeTcbSvn string `json:"minimumTeeTcbSvn,omitempty"`
	// MinimumQeSvn / MinimumPceSvn are floors for the quoting enclave.
	MinimumQeSvn  uint16 `json:"minimumQeSvn,omitempty"`
	MinimumPceSvn uint16 `json:"minimumPceSvn,omitempty"`
	// MrSeam pins the TDX module measurement (hex, 48 bytes), optional.
	MrSeam string `json:"mrSeam,omitempty"`
	// MinimumTeeTcbSvn2 is the 16-byte TEE_TCB_SVN2 floor (hex) for the
	// TDX 1.5 body of quote v5. When set, quotes without that field (v4,
	// v5 with a TDX 1.0 body) fail: the policy asks for what they lack.
	MinimumTeeTcbSvn2 string `json:"minimumTeeTcbSvn2,omitempty"`
	// MrServiceTd pins MRSERVICETD (hex, 48 bytes; all zero = no service TD
	// bound) of the TDX 1.5 body. When set, quotes without it fail.
	MrServiceTd string `json:"mrServiceTd,omitempty"`
	// RequireEventLog fails evidence that carries no CCEL event log. Without
	// it, evidence without a log passes the event-log check as skipped; a
	// log that is present is always replayed and must equal the quote's RTMRs.
	RequireEventLog bool `json:"requireEventLog,omitempty"`
	// MrConfigID, MrOwner and MrOwnerConfig pin those TD fields (hex, 48
	// bytes) when set. MRCONFIGID is where CoCo binds the init-data (agent
	// policy, KBS address) a TD was launched with: without a pin, init-data
	// is not bound to the evidence.
	MrConfigID    string `json:"mrConfigId,omitempty"`
	MrOwner       string `json:"mrOwner,omitempty"`
	MrOwnerConfig string `json:"mrOwnerConfig,omitempty"`
	// RequireSeptVEDisable requires TD_ATTRIBUTES.SEPT_VE_DISABLE (bit 28),
	// which Linux TDX guests need to be safe against EPT-violation #VE
	// injection by the host.
	RequireSeptVEDisable bool `json:"requireSeptVeDisable,omitempty"`
}

// TDXMeasurement is one allowed TD image.
type TDXMeasurement struct {
	Name string `json:"name"`
	// MRTD is required (hex, 48 bytes). RTMR0-3 are optional: empty means
	// "any value".
	MRTD  string `json:"mrtd"`
	RTMR0 string `json:"rtmr0,omitempty"`
	RTMR1 string `json:"rtmr1,omitempty"`
	RTMR2 string `json:"rtmr2,omitempty"`
	RTMR3 string `json:"rtmr3,omitempty"`
	// Placeholder marks an example entry that must be replaced by the real
	// image's values; it never matches any evidence.
	Placeholder bool `json:"placeholder,omitempty"`
	// Events are the release's measured boot events (from `cctest measure`).
	// The events of an RTMR replay to that RTMR: when the RTMR is not pinned
	// its replayed value is required instead, and a mismatch is explained
	// event by event (e.g. the kernel command line, old -> new).
	Events []TDXEvent `json:"events,omitempty"`
}

// TDXEvent is one pinned event of a release's CCEL event log.
type TDXEvent struct {
	// RTMR the event extends (0-3).
	RTMR int `json:"rtmr"`
	// Type is the TCG event type ("EV_IPL"), informational.
	Type string `json:"type,omitempty"`
	// Digest is the event's SHA-384 digest (hex, 48 bytes).
	Digest string `json:"digest"`
	// Description and Text say what was measured, for messages.
	Description string `json:"description,omitempty"`
	Text        string `json:"text,omitempty"`
}

// EventRTMRs replays the pinned events into RTMR0-3 from zero; an entry is
// nil when no event extends that RTMR.
func (m TDXMeasurement) EventRTMRs() [4][]byte {
	var out [4][]byte
	for _, e := range m.Events {
		if e.RTMR < 0 || e.RTMR > 3 {
			continue
		}
		if out[e.RTMR] == nil {
			out[e.RTMR] = make([]byte, MeasurementSize)
		}
		h := sha512.New384()
		h.Write(out[e.RTMR])
		h.Write(mustHex(e.Digest))
		out[e.RTMR] = h.Sum(nil)
	}
	return out
}

// SNP is the AMD SEV-SNP section.
type SNP struct {
	AllowedMeasurements []SNPMeasurement `json:"allowedMeasurements"`
	// MinimumTCB is the floor for REPORTED_TCB, per component.
	MinimumTCB *SNPTCB `json:"minimumTCB,omitempty"`
	// VMPL the report must come from; default 0.
	VMPL *uint32 `json:"vmpl,omitempty"`
	// AllowSMT permits guests whose policy allows SMT; default true (most
	// hosts run with SMT on).
	AllowSMT *bool `json:"allowSMT,omitempty"`
	// ProductLines restricts the CPU product line ("Milan", "Genoa");
	// empty allows both.
	ProductLines []string `json:"productLines,omitempty"`
	// MinimumGuestSvn is the floor for the guest's GUEST_SVN.
	MinimumGuestSvn uint32 `json:"minimumGuestSvn,omitempty"`
	// PermitProvisionalFirmware accepts hosts running provisional firmware
	// (CURRENT_TCB / build / API version newer than the COMMITTED ones, as
	// after a firmware update not yet committed). Default false: current
	// and committed must be equal. Committed newer than current never passes.
	PermitProvisionalFirmware bool `json:"permitProvisionalFirmware,omitempty"`
	// HostData pins HOST_DATA (hex, 32 bytes), where CoCo binds the
	// init-data digest of an SNP guest.
	HostData string `json:"hostData,omitempty"`
	// IDKeyDigests / AuthorKeyDigests, when set, list the ID-block keys
	// (hex SHA-384, 48 bytes) a guest may have been launched with.
	IDKeyDigests     []string `json:"idKeyDigests,omitempty"`
	AuthorKeyDigests []string `json:"authorKeyDigests,omitempty"`
	// MinimumBuild is the floor for the SEV firmware build (CURRENT_BUILD
	// and COMMITTED_BUILD of report v3+).
	MinimumBuild uint32 `json:"minimumBuild,omitempty"`
}

// SNPMeasurement is one allowed guest launch measurement.
type SNPMeasurement struct {
	Name        string `json:"name"`
	Measurement string `json:"measurement"`
	Placeholder bool   `json:"placeholder,omitempty"`
}

// SNPTCB is a TCB_VERSION split into its security patch levels.
type SNPTCB struct {
	Bootloader uint8 `json:"bootloader"`
	TEE        uint8 `json:"tee"`
	SNP        uint8 `json:"snp"`
	Microcode  uint8 `json:"microcode"`
}

// Intel TCB statuses (PCS TCB info v3 / enclave identity v2), best first.
const (
	TCBUpToDate                          = "UpToDate"
	TCBSWHardeningNeeded                 = "SWHardeningNeeded"
	TCBConfigurationNeeded               = "ConfigurationNeeded"
	TCBConfigurationAndSWHardeningNeeded = "ConfigurationAndSWHardeningNeeded"
	TCBOutOfDate                         = "OutOfDate"
	TCBOutOfDateConfigurationNeeded      = "OutOfDateConfigurationNeeded"
	TCBRevoked                           = "Revoked"
)

// TCBStatuses are the statuses Intel assigns, from best to worst.
var TCBStatuses = []string{TCBUpToDate, TCBSWHardeningNeeded, TCBConfigurationNeeded,
	TCBConfigurationAndSWHardeningNeeded, TCBOutOfDate, TCBOutOfDateConfigurationNeeded, TCBRevoked}

// AcceptedTcbStatuses returns the TDX TCB statuses that pass (default
// [UpToDate]).
func (t *TDX) AcceptedTcbStatuses() []string {
	if t == nil || len(t.AcceptTcbStatuses) == 0 {
		return []string{TCBUpToDate}
	}
	return t.AcceptTcbStatuses
}

// Sizes of the hex-encoded fields, in bytes.
const (
	MeasurementSize = 48
	TeeTcbSvnSize   = 16
)

// ProductLines a policy may name.
var knownProductLines = []string{"Milan", "Genoa"}

// TEEs returns the TEE types this policy allows, TDX first.
func (p *Policy) TEEs() []string {
	var out []string
	if p.TDX != nil {
		out = append(out, teename.TDX)
	}
	if p.SNP != nil {
		out = append(out, teename.SNP)
	}
	if p.SNP != nil && p.Azure != nil {
		out = append(out, AzureSNPTEE)
	}
	return out
}

// AllowsTEE reports whether evidence of the given TEE type may pass.
func (p *Policy) AllowsTEE(tee string) bool {
	switch tee {
	case teename.TDX:
		return p.TDX != nil
	case teename.SNP:
		return p.SNP != nil
	case AzureSNPTEE:
		return p.SNP != nil && p.Azure != nil
	}
	return false
}

// UsesTestRoots reports whether the policy trusts the simulators' test PKI.
// A hardware policy must return false.
func (p *Policy) UsesTestRoots() bool { return slices.Contains(p.TrustRoots, RootsSimulated) }

// UsesVendorRoots reports whether the policy trusts Intel's / AMD's roots.
func (p *Policy) UsesVendorRoots() bool { return slices.Contains(p.TrustRoots, RootsVendor) }

// DebugForbidden is always true: debug TDs and SNP guests with the debug
// policy bit are rejected by every policy. It exists so callers (certify,
// reports) can state it without knowing that rule.
func (p *Policy) DebugForbidden() bool { return true }

// MigratableForbidden is always true (TDX TD attribute MIGRATABLE, SNP
// migration agent).
func (p *Policy) MigratableForbidden() bool { return true }

// NonceRequired reports whether verification without an expected nonce fails.
func (p *Policy) NonceRequired() bool { return p.Nonce != NonceOptional }

// RequiredVMPL is the VMPL an SNP report must carry (0 unless set).
func (s *SNP) RequiredVMPL() uint32 {
	if s == nil || s.VMPL == nil {
		return 0
	}
	return *s.VMPL
}

// SMTAllowed reports whether SNP guests with SMT allowed may pass.
func (s *SNP) SMTAllowed() bool { return s == nil || s.AllowSMT == nil || *s.AllowSMT }

// HasPlaceholderMeasurements reports whether any allowlist entry is still an
// example that must be replaced.
func (p *Policy) HasPlaceholderMeasurements() bool {
	if p.TDX != nil {
		for _, m := range p.TDX.AllowedMeasurements {
			if m.Placeholder {
				return true
			}
		}
	}
	if p.SNP != nil {
		for _, m := range p.SNP.AllowedMeasurements {
			if m.Placeholder {
				return true
			}
		}
	}
	return false
}

// RealMeasurementCount is the number of non-placeholder allowlist entries
// for the TEE (0 means nothing can pass).
func (p *Policy) RealMeasurementCount(tee string) int {
	n := 0
	switch tee {
	case teename.TDX:
		if p.TDX != nil {
			for _, m := range p.TDX.AllowedMeasurements {
				if !m.Placeholder {
					n++
				}
			}
		}
	case teename.SNP:
		if p.SNP != nil {
			for _, m := range p.SNP.AllowedMeasurements {
				if !m.Placeholder {
					n++
				}
			}
		}
	}
	return n
}

// Bytes helpers: the loader has checked every hex field, so these only fail
// on a Policy built in code with bad values.

// hexSeparators is built once: the verifier decodes pins on every call, and
// building a Replacer cost more than the signature check.
var hexSeparators = strings.NewReplacer(":", "", " ", "")

// DecodeHex decodes a hex policy field ("" gives nil). Spaces, colons and a
// 0x prefix are tolerated so values can be pasted from tools.
func DecodeHex(s string) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0x"), "0X")
	if strings.ContainsAny(s, ": ") {
		s = hexSeparators.Replace(s)
	}
	if s == "" {
		return nil, nil
	}
	return hex.DecodeString(s)
}

// MustDecodeHex is DecodeHex for a value the loader checked (nil if bad).
func MustDecodeHex(s string) []byte { return mustHex(s) }

func mustHex(s string) []byte {
	b, err := DecodeHex(s)
	if err != nil {
		return nil
	}
	return b
}

// MRTDBytes returns MRTD as bytes.
func (m TDXMeasurement) MRTDBytes() []byte { return mustHex(m.MRTD) }

// RTMRBytes returns RTMR0-3 as bytes; an entry is nil when not pinned.
func (m TDXMeasurement) RTMRBytes() [4][]byte {
	return [4][]byte{mustHex(m.RTMR0), mustHex(m.RTMR1), mustHex(m.RTMR2), mustHex(m.RTMR3)}
}

// Bytes returns the SNP measurement as bytes.
func (m SNPMeasurement) Bytes() []byte { return mustHex(m.Measurement) }

// MinimumTeeTcbSvnBytes returns the TEE_TCB_SVN floor, nil when unset.
func (t *TDX) MinimumTeeTcbSvnBytes() []byte { return mustHex(t.MinimumTeeTcbSvn) }

// MrSeamBytes returns the pinned MRSEAM, nil when unset.
func (t *TDX) MrSeamBytes() []byte { return mustHex(t.MrSeam) }

// MinimumTeeTcbSvn2Bytes returns the TEE_TCB_SVN2 floor, nil when unset.
func (t *TDX) MinimumTeeTcbSvn2Bytes() []byte { return mustHex(t.MinimumTeeTcbSvn2) }

// MrServiceTdBytes returns the pinned MRSERVICETD, nil when unset.
func (t *TDX) MrServiceTdBytes() []byte { return mustHex(t.MrServiceTd) }

// String names the policy for messages.
func (p *Policy) String() string {
	return fmt.Sprintf("policy %q (%s; roots %s)", p.Name, strings.Join(p.TEEs(), "+"), strings.Join(p.TrustRoots, "+"))
}

// MrConfigIDBytes, MrOwnerBytes and MrOwnerConfigBytes return the pins (nil = unpinned).
func (t *TDX) MrConfigIDBytes() []byte    { return mustHex(t.MrConfigID) }
func (t *TDX) MrOwnerBytes() []byte       { return mustHex(t.MrOwner) }
func (t *TDX) MrOwnerConfigBytes() []byte { return mustHex(t.MrOwnerConfig) }

// HostDataBytes returns the HOST_DATA pin (nil = unpinned).
func (s *SNP) HostDataBytes() []byte { return mustHex(s.HostData) }
