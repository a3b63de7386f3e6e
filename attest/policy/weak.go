package policy

import (
	"fmt"
	"strings"
)

// Weaknesses lists what a policy leaves open that a real deployment must
// pin: each entry names the field and what passes because of it. Hardware
// qualification (cctest run --tee) refuses a policy with any; certify and
// cctest attest warn. An empty list is not a proof of a good policy, only
// that none of these known holes is open.
func Weaknesses(p *Policy) []string {
	if p == nil {
		return []string{"no policy: any evidence passes"}
	}
	var out []string
	if p.Nonce == NonceOptional {
		out = append(out, "nonce: optional: evidence without the verifier's nonce in REPORT_DATA passes, so old evidence can be replayed")
	}
	if !p.Collateral.CheckRevocations {
		out = append(out, "collateral.checkRevocations is off: evidence signed with a revoked PCK / VCEK (or by a revoked intermediate) passes")
	}
	if t := p.TDX; t != nil {
		if !p.Collateral.Verify && t.MinimumTeeTcbSvn == "" {
			out = append(out, "tdx: no TCB requirement (neither collateral.verify with acceptTcbStatuses nor minimumTeeTcbSvn): a TDX module or platform with known vulnerabilities passes")
		}
		for i, m := range t.AllowedMeasurements {
			if m.Placeholder {
				continue
			}
			fromEvents := m.EventRTMRs()
			var open []string
			for r, v := range []string{m.RTMR0, m.RTMR1, m.RTMR2} {
				if v == "" && fromEvents[r] == nil {
					open = append(open, fmt.Sprintf("RTMR%d", r))
				}
			}
			if len(open) > 0 {
				out = append(out, fmt.Sprintf("tdx.allowedMeasurements[%d] (%s) pins MRTD but leaves %s open: MRTD covers the TD firmware only, so any boot loader, kernel or command line passes",
					i, m.Name, strings.Join(open, ", ")))
			}
		}
	}
	if s := p.SNP; s != nil && s.MinimumTCB == nil {
		out = append(out, "snp: no minimumTCB: firmware and microcode with known vulnerabilities pass")
	}
	if p.Azure != nil && len(p.Azure.PCRs) == 0 {
		out = append(out, "azure: no pcrs: on Azure CVMs the SNP MEASUREMENT covers only Azure's paravisor firmware and the OS is measured into the vTPM PCRs, so this policy pins nothing of the node image")
	}
	return out
}

// LimitAWSSNP is what a VLEK-signed (AWS) SEV-SNP report cannot show.
const LimitAWSSNP = "on AWS SEV-SNP instances (VLEK-signed reports) the launch MEASUREMENT covers the firmware (OVMF) only, unless the kernel, initrd and command line are measured (measured direct boot): pin those, or the OS is not attested"

// Limits names what a policy does not bind even when it is not weak: said,
// not hidden, where evidence is checked (cctest attest).
func Limits(p *Policy) []string {
	if p == nil {
		return nil
	}
	var out []string
	if p.SNP != nil {
		if p.SNP.HostData == "" {
			out = append(out, "snp: hostData is not pinned: the init-data (agent policy, KBS address) of Kata guests is not bound to their evidence")
		}
	}
	if p.TDX != nil && p.TDX.MrConfigID == "" {
		out = append(out, "tdx: mrConfigId is not pinned: the init-data (agent policy, KBS address) of Kata guests is not bound to their evidence")
	}
	return out
}
