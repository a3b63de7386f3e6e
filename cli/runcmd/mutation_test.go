package runcmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/framework"
	"github.com/cctest/cctest/internal/testbin"
	"github.com/cctest/cctest/reports"
)

// pendingDetectors are faults whose detecting specs do not exist yet, with
// what will detect them. The check fails if a fault is neither detected nor
// listed here, and if a listed fault gains detectors (update the list).
var pendingDetectors = map[string]string{}

// run executes `cctest run` in a child process (Ginkgo runs once per process).
func run(t *testing.T, args ...string) (types.Report, string, error) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(testbin.Path(t), append([]string{"run", "--report-dir", dir}, args...)...)
	out, err := cmd.CombinedOutput()
	var reports []types.Report
	b, rerr := os.ReadFile(filepath.Join(dir, "report.json"))
	if rerr != nil {
		t.Fatalf("cctest run %v wrote no report.json (%v):\n%s", args, rerr, out)
	}
	if err := json.Unmarshal(b, &reports); err != nil || len(reports) != 1 {
		t.Fatalf("report.json: %v (%d reports)", err, len(reports))
	}
	checkReportDir(t, dir, err == nil)
	return reports[0], string(out), err
}

// checkReportDir holds every run's report directory to what users upload
// as a CI artifact: no private key, no kubeconfig, no platform state, every
// file in the manifest, and for a passing run well under 2 MB.
func checkReportDir(t *testing.T, dir string, passed bool) {
	t.Helper()
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		total += int64(len(b))
		rel, _ := filepath.Rel(dir, path)
		switch {
		case bytes.Contains(b, []byte("PRIVATE KEY-----")):
			t.Errorf("report directory holds a private key: %s", rel)
		case bytes.Contains(b, []byte("client-key-data:")) || bytes.Contains(b, []byte("kind: Config")) || strings.Contains(d.Name(), "kubeconfig"):
			t.Errorf("report directory holds a kubeconfig: %s", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if problems, err := reports.CheckManifest(dir); err != nil || len(problems) > 0 {
		t.Errorf("the manifest does not cover the report directory: %v %q", err, problems)
	}
	if passed && total >= 2<<20 {
		t.Errorf("the report directory of a passing run is %d bytes, want well under 2 MB", total)
	}
	t.Logf("report directory: %d bytes", total)
}

func failed(r types.Report) map[string]string {
	out := map[string]string{}
	for _, s := range r.SpecReports {
		if s.LeafNodeType == types.NodeTypeIt && s.State.Is(types.SpecStateFailureStates) {
			out[s.LeafNodeText] = s.Failure.Message
		}
	}
	return out
}

// TestMutationCheck is the harness testing itself: without faults every spec
// passes; with each fault exactly its declared detectors fail, each with a
// message.
func TestMutationCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded platform once per fault")
	}
	detectors := framework.Detectors()
	for _, f := range faults.All() {
		_, pending := pendingDetectors[f.Name]
		if len(detectors[f.Name]) == 0 && !pending {
			t.Errorf("fault %s has no detecting spec and is not listed as pending", f.Name)
		}
		if len(detectors[f.Name]) > 0 && pending {
			t.Errorf("fault %s has detectors now; remove it from pendingDetectors", f.Name)
		}
	}

	t.Run("no fault", func(t *testing.T) {
		r, out, err := run(t)
		if err != nil || len(failed(r)) > 0 {
			t.Fatalf("a run without faults must pass (err %v, failed %v):\n%s", err, failed(r), out)
		}
		if r.PreRunStats.SpecsThatWillRun != len(framework.SpecNames()) {
			t.Errorf("planned %d specs, registered %d", r.PreRunStats.SpecsThatWillRun, len(framework.SpecNames()))
		}
	})

	names := make([]string, 0, len(detectors))
	for f := range detectors {
		names = append(names, f)
	}
	sort.Strings(names)
	collateral := framework.Collateral()
	for _, f := range names {
		want, maybe := detectors[f], map[string]bool{}
		for _, s := range collateral[f] {
			maybe[s] = true
		}
		t.Run(f, func(t *testing.T) {
			r, out, err := run(t, "--fault", f)
			var ee *exec.ExitError
			if err == nil || !asExit(err, &ee) || ee.ExitCode() != 1 {
				t.Errorf("cctest run --fault %s: want exit 1, got %v", f, err)
			}
			got := failed(r)
			var gotNames []string
			for n, msg := range got {
				if strings.TrimSpace(msg) == "" {
					t.Errorf("spec %q failed without a message", n)
				}
				if !maybe[n] || contains(want, n) {
					gotNames = append(gotNames, n)
				}
			}
			sort.Strings(gotNames)
			if strings.Join(gotNames, "\n") != strings.Join(want, "\n") {
				t.Errorf("fault %s: failed specs\n  %s\nwant exactly\n  %s\n%s", f,
					strings.Join(gotNames, "\n  "), strings.Join(want, "\n  "), tail(out, 40))
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return fmt.Sprintf("last output:\n%s", strings.Join(lines, "\n"))
}
