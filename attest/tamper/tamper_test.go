package tamper_test

import (
	"strings"
	"testing"

	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/tamper"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/simulators/tee"
)

// Every variant of genuine evidence fails verification under a policy the
// genuine evidence passes, with the same expected REPORT_DATA.
func TestVariantsAreRefused(t *testing.T) {
	p, err := policy.LoadFile("../../fixtures/policies/platform.yaml")
	if err != nil {
		t.Fatal(err)
	}
	v := verifier.New(verifier.Options{TestRoots: tee.TestRoots()})
	rd := verifier.BindReportData([]byte("nonce"), "probe:x")
	otherRD := verifier.BindReportData([]byte("other"), "probe:y")
	machines := map[string]tee.Machine{
		"tdx v4": tee.NewTDXMachine(tee.TDXOptions{Name: "a"}),
		"tdx v5": tee.NewTDXMachine(tee.TDXOptions{Name: "a", QuoteVersion: 5}),
		"snp":    tee.MustNewSNPMachine(tee.SNPOptions{Name: "b"}),
	}
	for name, m := range machines {
		genuine, err := evidence(m, rd)
		if err != nil {
			t.Fatal(err)
		}
		if got := v.Verify(genuine, p, rd[:]); !got.Pass {
			t.Fatalf("%s: genuine evidence fails: %s", name, got.Reason)
		}
		other, err := evidence(m, otherRD)
		if err != nil {
			t.Fatal(err)
		}
		vs, err := tamper.Variants(genuine, &other, rd)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) < 8 {
			t.Errorf("%s: only %d variants", name, len(vs))
		}
		for _, bad := range vs {
			if got := v.Verify(bad.Evidence, p, rd[:]); got.Pass {
				t.Errorf("%s: variant %q passes verification", name, bad.Name)
			}
		}
	}
}

func TestVariantsBadInput(t *testing.T) {
	var rd [64]byte
	if _, err := tamper.Variants(tamper.Sample(rd), nil, rd); err == nil || !strings.Contains(err.Error(), `TEE "sample"`) {
		t.Errorf("sample evidence: %v", err)
	}
	if _, err := tamper.Variants(verifier.Evidence{TEE: "tdx", Raw: make([]byte, 100)}, nil, rd); err == nil || !strings.Contains(err.Error(), "has no byte") {
		t.Errorf("short quote: %v", err)
	}
}

func evidence(m tee.Machine, rd [64]byte) (verifier.Evidence, error) {
	raw, err := m.RawEvidence(rd)
	return verifier.Evidence{TEE: m.TEE(), Raw: raw, Source: "simulated:" + m.Name()}, err
}
