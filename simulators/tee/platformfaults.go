package tee

import "github.com/cctest/cctest/faults"

// Platform faults that make every simulated machine's (and Kata guest's)
// evidence wrong; the platform turns them into the machine faults above.
var (
	FaultTamperedQuote         = faults.Declare("tampered-quote", "every TEE machine's evidence has a flipped byte in its signed body")
	FaultDebugTD               = faults.Declare("debug-td", "TDX machines boot as debug TDs (TD attributes DEBUG bit set)")
	FaultSNPDebugPolicy        = faults.Declare("snp-debug-policy", "SEV-SNP machines boot with the guest policy DEBUG bit set")
	FaultWrongMeasurementAll   = faults.Declare("wrong-measurement", "TEE machines report a measurement (MRTD / MEASUREMENT) outside the policy's allowlist")
	FaultProbeEvidenceReplayed = faults.Declare("probe-evidence-replayed", "devices return evidence minted for an earlier nonce (replay)")
)
