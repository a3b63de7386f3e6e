package runcmd

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cctest/cctest/internal/proctree"
	"github.com/cctest/cctest/internal/testbin"
)

var readyLine = regexp.MustCompile(`^Platform ready in ([0-9.]+)s`)

// BenchmarkColdRun (medians of its runs) measures `cctest run` from a cold start: platform up,
// every spec, platform down. It reports the wall time, the platform's ready
// time (its own "Platform ready in" line), the specs' time, the exit delay
// (from the summary line, printed once the reports are written, to the
// process's exit: the platform's shutdown) and the whole process tree's
// summed peak RSS (runner plus the three control-plane children).
// CCTEST_CPUPROFILE_DIR=DIR in the environment also writes a CPU profile
// per process.
func BenchmarkColdRun(b *testing.B) {
	bin := testbin.Path(b)
	// Medians over the b.N runs: one slow run on a shared machine should
	// not be the figure.
	m := map[string][]float64{}
	defer func() {
		for unit, v := range m {
			sort.Float64s(v)
			b.ReportMetric(v[len(v)/2], unit)
		}
	}()
	for i := 0; i < b.N; i++ {
		reportDir := b.TempDir()
		cmd := exec.Command(bin, "run", "--report-dir", reportDir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		cmd.Stderr = cmd.Stdout
		begin := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		mem := proctree.Sample(cmd.Process.Pid, 100*time.Millisecond)
		var ready float64
		var readyAt, summaryAt time.Time
		var log strings.Builder
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			log.WriteString(line + "\n")
			if m := readyLine.FindStringSubmatch(line); m != nil {
				ready, _ = strconv.ParseFloat(m[1], 64)
				readyAt = time.Now()
			}
			if strings.HasPrefix(line, "PASS: ") || strings.HasPrefix(line, "FAIL: ") {
				summaryAt = time.Now()
			}
		}
		err = cmd.Wait()
		end := time.Now()
		kb, procs := mem.Stop()
		if err != nil {
			b.Fatalf("cctest run: %v\n%s", err, log.String())
		}
		if readyAt.IsZero() || summaryAt.IsZero() {
			b.Fatalf("no ready or summary line in the output:\n%s", log.String())
		}
		m["s-wall"] = append(m["s-wall"], end.Sub(begin).Seconds())
		m["s-platform-ready"] = append(m["s-platform-ready"], ready)
		m["s-specs"] = append(m["s-specs"], summaryAt.Sub(readyAt).Seconds())
		m["s-exit-delay"] = append(m["s-exit-delay"], end.Sub(summaryAt).Seconds())
		m["MB-tree-peak"] = append(m["MB-tree-peak"], float64(kb)/1024)
		b.Logf("process tree: %d processes", procs)
		// The platform's start, stage by stage (its log's "platform:" lines).
		if plog, err := os.ReadFile(filepath.Join(reportDir, "platform.log")); err == nil {
			for _, l := range strings.Split(string(plog), "\n") {
				if strings.HasPrefix(l, "platform: ") {
					b.Logf("  %s", l)
				}
			}
		}
	}
}
