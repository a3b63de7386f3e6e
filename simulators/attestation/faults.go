package attestation

import "github.com/cctest/cctest/faults"

// Faults of the attestation service.
var (
	FaultServiceDown = faults.Declare("attestation-service-down", "the attestation service does not answer")
	FaultAcceptsAll  = faults.Declare("attestation-service-accepts-all", "the attestation service returns a passing verdict for any evidence")
)
