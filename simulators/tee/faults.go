package tee

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/cctest/cctest/api/teename"
)

// Fault is a switch on a simulated machine that makes its evidence wrong in
// one specific way. Other simulators map their platform faults onto these.
type Fault string

// Faults a Machine supports.
const (
	// FaultTampered flips a signed byte after signing (TD quote body / report MEASUREMENT area).
	FaultTampered Fault = "tampered"
	// FaultDebug sets the TD attributes DEBUG bit / the SNP guest policy DEBUG bit.
	FaultDebug Fault = "debug"
	// FaultWrongMeasurement reports a measurement no policy allows.
	FaultWrongMeasurement Fault = "wrong-measurement"
	// FaultOldTCB reports a TCB below the simulators' (and example policies') minimum.
	FaultOldTCB Fault = "old-tcb"
	// FaultUntrustedRoot chains the evidence to a look-alike root nobody trusts.
	FaultUntrustedRoot Fault = "untrusted-root"
	// FaultForgedChain carries a forged chain: TDX presents the genuine test root
	// with a forged intermediate; SNP carries forged ARK/ASK/VCEK in its certificate table.
	FaultForgedChain Fault = "forged-chain"
	// FaultReplay ignores the nonce: it returns one stale evidence, requested
	// earlier with another nonce, every time.
	FaultReplay Fault = "replay"
	// FaultMigratable sets the TD attributes MIGRATABLE bit / the SNP MIGRATE_MA policy bit.
	FaultMigratable Fault = "migratable"
	// FaultVMPL makes an SNP report come from VMPL 1 (SNP only).
	FaultVMPL Fault = "vmpl"
	// FaultExpiredCert uses an expired PCK / VCEK certificate.
	FaultExpiredCert Fault = "expired-cert"
	// FaultRevoked lists the machine's PCK certificate in the fake PCS's PCK
	// CRL (TDX), or the ASK (ASVK) its VCEK (VLEK) chains to in the fake KDS's
	// CRL (SNP: AMD's CRL lists ASKs, and go-sev-guest checks revocation
	// there; the ASK is per product line, so this revokes it process-wide).
	// Visible when collateral revocation checks are on.
	FaultRevoked Fault = "revoked"
	// FaultChangedCmdline boots the TD (with a CCEL event log) with a kernel
	// command line other than the release's: RTMR2 changes (TDX only).
	FaultChangedCmdline Fault = "changed-cmdline"
	// FaultInitDataUnbound launches the guest without its init-data digest:
	// MRCONFIGID / HOST_DATA are all zero.
	FaultInitDataUnbound Fault = "initdata-unbound"
)

var faultTEEs = map[Fault][]string{
	FaultTampered: {teename.TDX, teename.SNP}, FaultDebug: {teename.TDX, teename.SNP}, FaultWrongMeasurement: {teename.TDX, teename.SNP},
	FaultOldTCB: {teename.TDX, teename.SNP}, FaultUntrustedRoot: {teename.TDX, teename.SNP}, FaultForgedChain: {teename.TDX, teename.SNP},
	FaultReplay: {teename.TDX, teename.SNP}, FaultMigratable: {teename.TDX, teename.SNP}, FaultVMPL: {teename.SNP},
	FaultExpiredCert: {teename.TDX, teename.SNP}, FaultRevoked: {teename.TDX, teename.SNP},
	FaultChangedCmdline: {teename.TDX}, FaultInitDataUnbound: {teename.TDX, teename.SNP},
}

var faultHelp = map[Fault]string{
	FaultTampered:         "flip a signed byte of the evidence after signing",
	FaultDebug:            "debug TD / SNP guest policy with DEBUG allowed",
	FaultWrongMeasurement: "measurement (MRTD / MEASUREMENT) not in any allowlist",
	FaultOldTCB:           "TCB below the minimum (TEE_TCB_SVN / REPORTED_TCB)",
	FaultUntrustedRoot:    "evidence chains to a look-alike root nobody trusts",
	FaultForgedChain:      "forged certificate chain (TDX intermediate / SNP certificate table)",
	FaultReplay:           "ignore the nonce and replay the first evidence",
	FaultMigratable:       "migratable TD / SNP migration agent allowed",
	FaultVMPL:             "SNP report from VMPL 1 instead of 0",
	FaultExpiredCert:      "expired PCK / VCEK certificate",
	FaultRevoked:          "PCK certificate (TDX) / the ASK of the VCEK (SNP) listed in the (fake) PCS / KDS CRL",
	FaultChangedCmdline:   "TD booted with a changed kernel command line (CCEL event log; RTMR2 changes)",
	FaultInitDataUnbound:  "init-data not bound to the evidence (MRCONFIGID / HOST_DATA all zero)",
}

// Faults lists the faults that apply to a TEE ("" for all), sorted.
func Faults(tee string) []Fault {
	var out []Fault
	for f, tees := range faultTEEs {
		if tee == "" || slices.Contains(tees, tee) {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Describe returns a one-line description of a fault.
func (f Fault) Describe() string { return faultHelp[f] }

// ParseFault checks a fault name for a TEE.
func ParseFault(tee, name string) (Fault, error) {
	f := Fault(strings.TrimSpace(name))
	tees, ok := faultTEEs[f]
	if !ok {
		names := make([]string, 0)
		for _, k := range Faults(tee) {
			names = append(names, string(k))
		}
		return "", fmt.Errorf("unknown fault %q (known for %s: %s)", name, tee, strings.Join(names, ", "))
	}
	if tee != "" && !slices.Contains(tees, tee) {
		return "", fmt.Errorf("fault %q does not apply to %s", name, tee)
	}
	return f, nil
}

type faultSet map[Fault]bool

func newFaultSet(fs []Fault) faultSet {
	s := faultSet{}
	for _, f := range fs {
		s[f] = true
	}
	return s
}
