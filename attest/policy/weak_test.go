package policy_test

import (
	"strings"
	"testing"

	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/fixtures"
)

// The fixture policies the default run and the examples use are not weak.
func TestFixturePoliciesAreNotWeak(t *testing.T) {
	for _, name := range []string{"platform.yaml", "tdx-simulated.yaml", "snp-simulated.yaml", "tdx-hardware.yaml", "snp-hardware.yaml"} {
		b, err := fixtures.Read("policies/" + name)
		if err != nil {
			t.Fatal(err)
		}
		p, err := policy.Load(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if w := policy.Weaknesses(p); len(w) > 0 {
			t.Errorf("%s is weak: %s", name, strings.Join(w, "; "))
		}
	}
}

func TestWeaknesses(t *testing.T) {
	doc := `apiVersion: cctest.dev/v1alpha1
kind: AttestationPolicy
name: weak
trustRoots: [simulated]
nonce: optional
tdx:
  allowedMeasurements:
  - name: mrtd-only
    mrtd: "` + strings.Repeat("ab", 48) + `"
    rtmr0: "` + strings.Repeat("cd", 48) + `"
snp:
  allowedMeasurements:
  - name: g
    measurement: "` + strings.Repeat("ef", 48) + `"
azure: {}
`
	p, err := policy.Load([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(policy.Weaknesses(p), "\n")
	for _, want := range []string{
		"nonce: optional", "checkRevocations is off", "tdx: no TCB requirement",
		"(mrtd-only) pins MRTD but leaves RTMR1, RTMR2 open", "snp: no minimumTCB", "azure: no pcrs",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("weaknesses lack %q:\n%s", want, got)
		}
	}
	limits := strings.Join(policy.Limits(p), "\n")
	for _, want := range []string{"hostData is not pinned", "mrConfigId is not pinned"} {
		if !strings.Contains(limits, want) {
			t.Errorf("limits lack %q:\n%s", want, limits)
		}
	}
	if w := policy.Weaknesses(nil); len(w) != 1 {
		t.Errorf("nil policy: %v", w)
	}
}
