package kbs

import "github.com/cctest/cctest/faults"

// FaultIgnoresResourcePolicy: the KBS releases resources to every session
// that attested, also to evidence its appraisal contraindicated (a resource
// policy that is not enforced).
var FaultIgnoresResourcePolicy = faults.Declare("kbs-ignores-resource-policy", "the KBS releases resources to any guest that attested, also when the attestation policy refused its evidence")

// Faults of the RCAR handshake: what makes evidence fresh and bound to the
// session's TEE key.
var (
	FaultAcceptsReusedNonce = faults.Declare("kbs-accepts-reused-nonce", "the KBS never checks the Attestation's nonce against its session's: another session's attestation, replayed as it is, passes")
	FaultFixedNonce         = faults.Declare("kbs-fixed-nonce", "every /kbs/v0/auth challenge carries the same nonce: guests share one fixed nonce, so any earlier evidence is fresh")
	FaultReportDataUnbound  = faults.Declare("kbs-reportdata-unbound", "the KBS does not check REPORT_DATA against the hash of the runtime data: evidence passes with any tee-pubkey, and the resource is encrypted to the key of whoever sent it")
)
