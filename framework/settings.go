package framework

import "github.com/cctest/cctest/probe"

// Run settings `cctest run` gives the specs: which TEEs the tenant offers
// and which image runs probes there.
var (
	runTEEs    = []string{"tdx", "sev-snp"}
	probeImage = probe.Image + ":latest"
)

// SetTEEs limits the run to these TEEs (`--tee`); the embedded platform
// offers both.
func SetTEEs(tees []string) { runTEEs = tees }

// TEEs are the TEEs the tenant is expected to offer.
func TEEs() []string { return runTEEs }

// SetProbeImage sets the image of probe pods (`--probe-image`).
func SetProbeImage(image string) {
	if image != "" {
		probeImage = image
	}
}

// ProbeImage is the image probe pods run.
func ProbeImage() string { return probeImage }
