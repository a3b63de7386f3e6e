// Package revocation tests the SNP revocation fault in a process of its
// own: it revokes a product line's ASK for the whole process.
package revocation

import (
	"crypto/rand"
	"strings"
	"testing"

	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/internal/testpolicy"
	"github.com/cctest/cctest/simulators/tee"
)

func TestRevokedASKFailsOnlyWithRevocationChecks(t *testing.T) {
	var nonce [64]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		t.Fatal(err)
	}
	m := tee.MustNewSNPMachine(tee.SNPOptions{Name: "revoked", Faults: []tee.Fault{tee.FaultRevoked}})
	raw, err := m.ExtendedReport(nonce)
	if err != nil {
		t.Fatal(err)
	}
	v := verifier.New(verifier.Options{TestRoots: tee.TestRoots()})
	pol := testpolicy.Load(t, "snp-simulated.yaml")
	ev := verifier.Evidence{TEE: "sev-snp", Raw: raw}
	pol.Collateral.CheckRevocations = true
	if vd := v.Verify(ev, pol, nonce[:]); vd.Pass || !strings.Contains(vd.Reason, "ASK was revoked") {
		t.Errorf("with revocation checks: pass=%v reason %q, want the ASK revoked", vd.Pass, vd.Reason)
	}
	pol.Collateral.CheckRevocations = false
	if vd := v.Verify(ev, pol, nonce[:]); !vd.Pass {
		t.Errorf("without revocation checks the revoked chain must pass (the platform's blind spot): %s", vd.Reason)
	}
}
