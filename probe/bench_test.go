package probe_test

import (
	"testing"

	"github.com/cctest/cctest/simulators/tee/simdevice"

	"github.com/cctest/cctest/probe"
	"github.com/cctest/cctest/simulators/tee"
)

// BenchmarkEncodeEvidenceTDX: packing a quote for the termination message
// (DEFLATE with the certificate dictionary).
func BenchmarkEncodeEvidenceTDX(b *testing.B) {
	ev, err := simdevice.New(tee.NewTDXMachine(tee.TDXOptions{Name: "bench"})).Evidence([64]byte{7})
	if err != nil {
		b.Fatal(err)
	}
	var n int
	for b.Loop() {
		s, err := probe.EncodeEvidence(ev)
		if err != nil {
			b.Fatal(err)
		}
		n = len(s)
	}
	b.ReportMetric(float64(n), "encoded-bytes")
}
