package framework

import (
	"errors"
	"time"

	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/environments"
	"github.com/cctest/cctest/probe"
)

// Run is one run's configuration, built once by the runner and handed to
// every spec (as e2e-framework hands envconf.Config to every step). Nothing
// about a run lives in package variables.
type Run struct {
	// Env is the environment under test.
	Env Environment
	// Policy is the attestation policy evidence is verified against (nil
	// when the run has none; specs that need one fail saying so).
	Policy *policy.Policy
	// Verifier checks evidence; the runner hands it the test roots the
	// embedded platform's evidence chains to.
	Verifier *verifier.Verifier
	// TEEs are the TEEs the tenant is expected to offer ("tdx", "sev-snp").
	TEEs []string
	// ProbeImage is the image probe pods run.
	ProbeImage string
	// Faults are the faults the platform was started with, for the report.
	Faults []string
	// Waivers are skips the user accepted (spec name → why), for the report.
	Waivers map[string]string
	// KBS is the tenant's Key Broker Service (Trustee protocol), nil when
	// the run has none; specs that put a resource need its admin key.
	KBS *environments.KBS
}

// DefaultProbeImage is the probe image of the embedded platform's nodes.
const DefaultProbeImage = probe.Image + ":latest"

// Check says what is missing before any spec runs.
func (r *Run) Check() error {
	if r == nil || r.Env == nil {
		return errors.New("framework: the run has no environment")
	}
	if r.Verifier == nil {
		return errors.New("framework: the run has no verifier")
	}
	if r.ProbeImage == "" {
		r.ProbeImage = DefaultProbeImage
	}
	return nil
}

// Timeout scales a base timeout by the environment's factor.
func (r *Run) Timeout(base time.Duration) time.Duration {
	return time.Duration(float64(base) * r.Env.TimeoutScale())
}
