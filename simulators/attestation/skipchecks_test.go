package attestation

import (
	"testing"

	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/internal/testpolicy"
	"github.com/cctest/cctest/simulators/tee"
)

// A broken verifier passes debug guests of both TEEs; the real one does not.
func TestSkipChecksPassesDebugGuests(t *testing.T) {
	v := verifier.New(verifier.Options{TestRoots: tee.TestRoots()})
	rd := verifier.BindReportData([]byte("n"), "pod:a")
	for _, m := range []tee.Machine{
		tee.NewTDXMachine(tee.TDXOptions{Name: "d", Faults: []tee.Fault{tee.FaultDebug}}),
		tee.MustNewSNPMachine(tee.SNPOptions{Name: "d", Faults: []tee.Fault{tee.FaultDebug}}),
	} {
		raw, err := m.RawEvidence(rd)
		if err != nil {
			t.Fatal(err)
		}
		got := v.Verify(verifier.Evidence{TEE: m.TEE(), Raw: raw}, testpolicy.Platform(t), rd[:])
		if got.Pass {
			t.Fatalf("%s: the verifier passes a debug guest", m.TEE())
		}
		if s := SkipChecks(got); !s.Pass {
			t.Errorf("%s: SkipChecks still refuses: %s (verifier: %s)", m.TEE(), s.Reason, got.Reason)
		}
	}
}
