package example

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/envfuncs"

	"github.com/cctest/cctest/environments/e2eprov"
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/internal/testbin"
	"github.com/cctest/cctest/internal/testpolicy"
	"github.com/cctest/cctest/simulators/embedded"
	"github.com/cctest/cctest/simulators/tee"
)

// The example's assessments can fail: on platforms started with faults,
// each one catches what it is about.
func TestExampleAssessmentsCatchFaults(t *testing.T) {
	type check struct {
		pod                    func() *corev1.Pod
		scheduleErr, attestErr string // which assessment must fail, and how
	}
	cases := map[string]struct {
		faults []string
		checks map[string]check
	}{
		// The TDX VMs' quotes say debug: their gate refuses them, no TDX
		// Confidential VM joins and the workload never runs.
		"gate refuses debug TDs": {faults: []string{tee.FaultDebugTD}, checks: map[string]check{
			"cvm pod": {pod: cvmPod, scheduleErr: "not running after 10s: phase Pending"},
		}},
		// The bootstrap ignores the gate's refusal and joins anyway: the
		// workload runs, and the attestation assessment finds no trace of
		// a passing gate on its node.
		"gate ignored": {faults: []string{tee.FaultDebugTD, embedded.FaultCVMGateIgnored}, checks: map[string]check{
			"cvm pod": {pod: cvmPod, attestErr: "no readable gate trace"},
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			fs, err := faults.Parse(tc.faults...)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			key := "faulted-" + strings.ReplaceAll(name, " ", "-")
			p := e2eprov.NewEmbedded().WithPath(testbin.Path(t)).WithOpts(e2eprov.EmbeddedFaults(fs))
			cfg := envconf.New()
			ctx, err = envfuncs.CreateCluster(p, key)(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer envfuncs.DestroyCluster(key)(ctx, cfg)

			for cname, c := range tc.checks {
				t.Run(cname, func(t *testing.T) {
					pod := c.pod()
					if _, err := createInNewNamespace(ctx, cfg.Client(), pod); err != nil {
						t.Fatal(err)
					}
					node, err := runsOnTDXNode(ctx, cfg.Client(), pod, 10*time.Second)
					if c.scheduleErr != "" {
						if err == nil || !strings.Contains(err.Error(), c.scheduleErr) {
							t.Fatalf("schedule assessment: %v, want an error containing %q", err, c.scheduleErr)
						}
						t.Log(err)
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					err = joinedAttested(node, testpolicy.Platform(t))
					if err == nil || !strings.Contains(err.Error(), c.attestErr) {
						t.Fatalf("attestation assessment: %v, want an error containing %q", err, c.attestErr)
					}
					t.Log(err)
				})
			}
		})
	}
}
