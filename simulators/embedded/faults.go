package embedded

import "github.com/cctest/cctest/faults"

// Faults of the Kata guest agent (pod-level attestation inside the guest).
var (
	FaultEgressDenied     = faults.Declare("egress-denied", "pods on confidential nodes cannot reach the attestation service whatever the NetworkPolicies say")
	FaultPodVerdictReused = faults.Declare("pod-verdict-reused", "the Kata runtime starts every pod on the first passing verdict it got, not on one bound to that pod")
)
