package runcmd

import (
	"os/exec"
	"strings"
	"testing"
)

// Each fault of the cloud Confidential VM path fails its own spec, through
// that spec's message, and leaves the other CVM specs passing.
func TestCVMFaultsFailTheirSpecs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded platform once per fault")
	}
	const (
		gated   = "every Confidential VM node carries a passing gate trace and its live evidence verifies"
		refused = "a Confidential VM its gate refuses never appears as a node"
		plain   = "plain pods run inside a Confidential VM's TEE without a RuntimeClass, on the Shielded VM features its node type promises"
	)
	for _, tc := range []struct {
		fault string
		want  map[string]string // spec -> part of its failure message
	}{
		// Without the gate, the VM with the unapproved image joins as well.
		{"cvm-no-gate-trace", map[string]string{
			gated:   "has no gate trace (annotation attestation.cctest.dev/gate): it joined without `cctest gate`",
			refused: "is in the tenant on evidence its gate must refuse (measurement: MRTD",
		}},
		{"cvm-gate-ignored", map[string]string{
			gated:   "has no gate trace",
			refused: "is in the tenant on evidence its gate must refuse (measurement: MRTD",
		}},
		{"cvm-secure-boot-off", map[string]string{plain: "promises secure boot (cctest.dev/secure-boot=true) but the VM's SecureBoot variable says disabled"}},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			r, out, err := run(t, "--fault", tc.fault, "--focus", "Cloud Confidential VM")
			var ee *exec.ExitError
			if !asExit(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("want exit 1, got %v\n%s", err, tail(out, 30))
			}
			got := failed(r)
			for spec, msg := range tc.want {
				if !strings.Contains(got[spec], msg) {
					t.Errorf("spec %q: failure %q, want it to say %q", spec, got[spec], msg)
				}
			}
			for spec, msg := range got {
				if _, ok := tc.want[spec]; !ok {
					t.Errorf("spec %q failed too: %s", spec, msg)
				}
			}
		})
	}
}
