package attestation

import "github.com/cctest/cctest/faults"

// Faults of the attestation service.
var (
	FaultServiceDown = faults.Declare("attestation-service-down", "the attestation service does not answer")
	FaultAcceptsAll  = faults.Declare("attestation-service-accepts-all", "the attestation service returns a passing verdict for any evidence")
	// The service verifies evidence but never marks a nonce used, so
	// evidence that passed once passes again (replay).
	FaultAcceptsReplay = faults.Declare("service-accepts-replay", "the attestation service never uses up a nonce: evidence that passed once passes again under the same nonce")
)
