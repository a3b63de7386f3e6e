package runcmd

import (
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/cctest/cctest/internal/testbin"
)

// BenchmarkColdRun measures `cctest run` from a cold start: platform up,
// every spec, platform down. It reports the wall time and the peak RSS of
// the largest process in the run (a control plane or the runner).
func BenchmarkColdRun(b *testing.B) {
	bin := testbin.Path(b)
	var peakKB int64
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(bin, "run", "--report-dir", b.TempDir())
		begin := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("cctest run: %v\n%s", err, out)
		}
		b.ReportMetric(time.Since(begin).Seconds(), "s-wall")
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > peakKB {
			peakKB = ru.Maxrss
		}
	}
	b.ReportMetric(float64(peakKB)/1024, "MB-peak-RSS")
}
