package reports

import (
	"fmt"

	"github.com/onsi/ginkgo/v2/types"
)

// StatusFlaky is a spec that passed only on a retry (--flake-attempts): it
// is reported apart from passes, never as one.
const StatusFlaky = "flaky"

// statusOrder is the order the report lists statuses in.
var statusOrder = []string{"failed", "timedout", "panicked", "interrupted", "aborted", StatusFlaky, "passed", "skipped", "pending"}

// Status is a spec's outcome as cctest reports it: Ginkgo's state, except
// that a pass after failed attempts is "flaky".
func Status(s types.SpecReport) string {
	if s.State == types.SpecStatePassed && s.NumAttempts > 1 {
		return StatusFlaky
	}
	return s.State.String()
}

// Attempts says how a flaky spec got there, e.g. "passed on attempt 2 of 3".
func Attempts(s types.SpecReport) string {
	return fmt.Sprintf("passed on attempt %d of %d", s.NumAttempts, s.MaxFlakeAttempts)
}

// Count is how many specs ended in one state.
type Count struct {
	State string
	N     int
}

// Summary is the verdict of a run, computed the way `cctest run` does: any
// failure, a failed suite setup node, or a planned spec that did not run
// fails it.
type Summary struct {
	Pass    bool
	Reasons []string // why it failed, for people
	Counts  []Count  // It specs per state, in stateOrder, non-zero only
	Specs   int      // It specs in the report
	Planned int      // specs Ginkgo planned to run
	Ran     int      // specs that ran (incl. skipped at run time with a reason)
	DryRun  bool
}

// Summarize computes the run's verdict and counts.
func Summarize(r types.Report) Summary {
	s := Summary{Planned: r.PreRunStats.SpecsThatWillRun, DryRun: r.SuiteConfig.DryRun}
	counts := map[string]int{}
	failed := 0
	for _, sp := range r.SpecReports {
		if sp.LeafNodeType != types.NodeTypeIt {
			if sp.State.Is(types.SpecStateFailureStates) {
				s.Reasons = append(s.Reasons, fmt.Sprintf("%s %s: %s", specName(sp), sp.State, firstLine(failureMessage(sp))))
			}
			continue
		}
		s.Specs++
		counts[Status(sp)]++
		if sp.State.Is(types.SpecStateFailureStates) {
			failed++
		}
		switch {
		case sp.State == types.SpecStateSkipped && sp.Failure.Message != "":
			s.Ran++ // skipped at run time, with a stated reason
		case sp.State == types.SpecStateSkipped, sp.State == types.SpecStatePending:
		default:
			s.Ran++
		}
	}
	for _, st := range statusOrder {
		if counts[st] > 0 {
			s.Counts = append(s.Counts, Count{st, counts[st]})
		}
	}
	if failed > 0 {
		s.Reasons = append([]string{fmt.Sprintf("%d of %d specs failed", failed, s.Specs)}, s.Reasons...)
	}
	s.Reasons = append(s.Reasons, r.SpecialSuiteFailureReasons...)
	if !s.DryRun && s.Ran != s.Planned {
		s.Reasons = append(s.Reasons, fmt.Sprintf("planned %d specs but %d ran", s.Planned, s.Ran))
	}
	if !r.SuiteSucceeded && len(s.Reasons) == 0 {
		s.Reasons = append(s.Reasons, "Ginkgo reports the suite as failed")
	}
	s.Pass = len(s.Reasons) == 0
	return s
}

// failureMessage is what a person needs first: the panic for panics.
func failureMessage(s types.SpecReport) string {
	if s.State == types.SpecStatePanicked && s.Failure.ForwardedPanic != "" {
		if s.Failure.Message != "" {
			return s.Failure.Message + ": " + s.Failure.ForwardedPanic
		}
		return s.Failure.ForwardedPanic
	}
	return s.Failure.Message
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
