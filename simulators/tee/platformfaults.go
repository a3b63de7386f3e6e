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

// Platform faults of a platform whose own verifier (node-join gate and
// attestation service) has a blind spot, and whose machines are wrong in
// exactly that spot: the platform admits them, so only the specs' own
// checks (the floor, the spec's verifier and policy) can refuse them.
var (
	FaultVerifierSkipsChecks = faults.Declare("verifier-skips-checks",
		"the platform's verifier (gate and attestation service) skips measurement, debug and TCB checks yet says pass; its machines boot as debug guests")
	FaultRevokedPCK = faults.Declare("revoked-pck",
		"TDX machines use a PCK certificate the (fake) PCS CRL lists as revoked; the platform's verifier checks no revocations")
	FaultRevokedASK = faults.Declare("revoked-ask",
		"SEV-SNP machines' VCEKs chain to an ASK the (fake) AMD KDS CRL lists as revoked; the platform's verifier checks no revocations")
	FaultKernelChangedMRTDSame = faults.Declare("kernel-changed-mrtd-same",
		"TDX machines boot a changed kernel command line: MRTD stays, RTMR2 changes; the platform's gate pins MRTD only")
	FaultInitDataUnboundAll = faults.Declare("initdata-unbound",
		"guests launch without their init-data digest in MRCONFIGID (TDX) / HOST_DATA (SNP); the platform's verifier pins neither")
)
