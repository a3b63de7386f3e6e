package suites

import (
	"fmt"

	"github.com/onsi/gomega/gcustom"
	"github.com/onsi/gomega/types"
	corev1 "k8s.io/api/core/v1"

	"github.com/cctest/cctest/attest/verifier"
)

// StayPending matches a pod the scheduler has not placed: phase Pending and
// no node.
func StayPending() types.GomegaMatcher {
	return gcustom.MakeMatcher(func(p *corev1.Pod) (bool, error) {
		if p == nil {
			return false, fmt.Errorf("no pod")
		}
		return p.Status.Phase == corev1.PodPending && p.Spec.NodeName == "", nil
	}).WithTemplate("Expected pod {{.Actual.Name}} {{.To}} stay Pending and unscheduled; it is {{.Actual.Status.Phase}} on node {{printf \"%q\" .Actual.Spec.NodeName}}")
}

// PassVerification matches a verdict that passed, and of the given TEE; on
// failure it shows the verifier's reason.
func PassVerification(tee string) types.GomegaMatcher {
	return gcustom.MakeMatcher(func(v verifier.Verdict) (bool, error) {
		return v.Pass && v.TEE == tee, nil
	}).WithTemplate("Expected {{.Actual.TEE}} evidence {{.To}} pass the spec's own verification as " + tee + " evidence: {{.Actual.Reason}}")
}
