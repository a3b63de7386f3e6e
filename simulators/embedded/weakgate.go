package embedded

import (
	"encoding/json"

	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/simulators/attestation"
	"github.com/cctest/cctest/simulators/tee"
)

// platformVerifier is the policy and verdict rewrite the platform's own
// verifier (node-join gate, attestation service) uses: the run's policy,
// with the blind spot of a fault that lets a broken machine in. The specs
// keep the unweakened policy, so they must catch what the platform missed.
func platformVerifier(pol *policy.Policy, fs faults.Set) (*policy.Policy, func(verifier.Verdict) verifier.Verdict) {
	var judge func(verifier.Verdict) verifier.Verdict
	if fs.Has(tee.FaultVerifierSkipsChecks) {
		judge = attestation.SkipChecks
	}
	if pol == nil || !fs.Has(tee.FaultRevokedPCK) && !fs.Has(tee.FaultRevokedASK) && !fs.Has(tee.FaultKernelChangedMRTDSame) && !fs.Has(tee.FaultInitDataUnboundAll) {
		return pol, judge
	}
	weak := clonePolicy(pol)
	if fs.Has(tee.FaultRevokedPCK) || fs.Has(tee.FaultRevokedASK) {
		weak.Collateral.CheckRevocations = false
	}
	if fs.Has(tee.FaultKernelChangedMRTDSame) && weak.TDX != nil {
		for i := range weak.TDX.AllowedMeasurements {
			m := &weak.TDX.AllowedMeasurements[i]
			m.RTMR0, m.RTMR1, m.RTMR2, m.Events = "", "", "", nil
		}
	}
	if fs.Has(tee.FaultInitDataUnboundAll) {
		if weak.TDX != nil {
			weak.TDX.MrConfigID = ""
		}
		if weak.SNP != nil {
			weak.SNP.HostData = ""
		}
	}
	return weak, judge
}

func clonePolicy(p *policy.Policy) *policy.Policy {
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // a policy always marshals
	}
	var out policy.Policy
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return &out
}
