package platform

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/cctest/cctest/simulators/tee"
	"github.com/cctest/cctest/simulators/tee/simdevice"

	"github.com/cctest/cctest/attest/gatetrace"
	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/verifier"
)

// VerifierGate is the node-join gate of a real platform: it issues a fresh
// nonce, has the booting machine's TEE device produce evidence bound to it,
// and verifies that evidence against the platform's attestation policy with
// go-tdx-guest / go-sev-guest. A machine without a TEE device has no
// evidence and fails.
type VerifierGate struct {
	Policy   *policy.Policy
	Verifier *verifier.Verifier
	// Judge, when set, rewrites the verdict: a broken verifier's blind spot
	// (the verifier-skips-checks fault).
	Judge func(verifier.Verdict) verifier.Verdict
}

// Admit runs the gate for one machine.
func (g VerifierGate) Admit(_ context.Context, m *Machine, node string) Admission {
	if m.Device == nil {
		return Admission{Reason: fmt.Sprintf("machine %s has no TEE device: no evidence to verify", m.Name)}
	}
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		return Admission{Reason: "gate: no randomness for a nonce: " + err.Error()}
	}
	rd := verifier.BindReportData(nonce, gatetrace.Context(node))
	ev, err := simdevice.New(m.Device).Evidence(rd)
	if err != nil {
		return Admission{Reason: fmt.Sprintf("machine %s produced no evidence: %v", m.Name, err)}
	}
	v := g.Verifier
	if v == nil {
		v = verifier.New(verifier.Options{TestRoots: tee.TestRoots()})
	}
	verdict := v.Verify(ev, g.Policy, rd[:])
	if g.Judge != nil {
		verdict = g.Judge(verdict)
	}
	adm := Admission{Passed: verdict.Pass, Reason: verdict.Reason}
	if t, err := gatetrace.New(node, nonce, ev, verdict); err == nil {
		adm.Trace, _ = t.Encode()
	}
	return adm
}
