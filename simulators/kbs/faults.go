package kbs

import "github.com/cctest/cctest/faults"

// FaultIgnoresResourcePolicy: the KBS releases resources to every session
// that attested, also to evidence its appraisal contraindicated (a resource
// policy that is not enforced).
var FaultIgnoresResourcePolicy = faults.Declare("kbs-ignores-resource-policy", "the KBS releases resources to any guest that attested, also when the attestation policy refused its evidence")
