package controlplane_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cctest/cctest/internal/testbin"
	"github.com/cctest/cctest/simulators/controlplane"
)

// BenchmarkStartPair measures time to ready for host + tenant together and
// the peak RSS of each control-plane child (VmHWM), and how long both take
// to stop (each child logs its shutdown's stages in components.log).
func BenchmarkStartPair(b *testing.B) {
	bin := testbin.Path(b)
	var peak int64
	for i := 0; i < b.N; i++ {
		p, err := controlplane.StartPair(context.Background(), bin, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(p.Started.Seconds(), "s-to-ready")
		for _, c := range []*controlplane.Process{p.Host, p.Tenant} {
			if kb := vmHWM(c.Ready.PID); kb > peak {
				peak = kb
			}
		}
		begin := time.Now()
		if err := p.Stop(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(begin).Seconds(), "s-to-stop")
	}
	b.ReportMetric(float64(peak)/1024, "MB-peak-RSS-per-plane")
}

func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			n, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return n
		}
	}
	return 0
}
