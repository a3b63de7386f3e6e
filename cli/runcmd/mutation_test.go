package runcmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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

// TestMutationCheck is the harness testing itself, under the strict rule:
// without faults every spec passes; with each fault (and each declared pair
// of faults) exactly its declared specs fail, and each through its own
// assertion — in its own body, not a timeout, with a message matching what
// the spec declares it must report. The fault runs are independent
// processes and run in parallel (go test -parallel, default GOMAXPROCS).
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
	for _, s := range framework.Specs() {
		if len(s.BrokenBy) == 0 {
			t.Errorf("spec %q (%s) has no fault that breaks it", s.Name, s.Where())
		}
	}

	t.Run("no fault", func(t *testing.T) {
		t.Parallel()
		r, out, err := run(t)
		if err != nil || len(failed(r)) > 0 {
			t.Fatalf("a run without faults must pass (err %v, failed %v):\n%s", err, failed(r), out)
		}
		if r.PreRunStats.SpecsThatWillRun != len(framework.SpecNames()) {
			t.Errorf("planned %d specs, registered %d", r.PreRunStats.SpecsThatWillRun, len(framework.SpecNames()))
		}
	})

	collateral := framework.Collateral()
	for _, key := range framework.FaultKeys() {
		want, maybe := detectors[key], map[string]bool{}
		for _, f := range strings.Split(key, framework.PairSep) {
			for _, s := range collateral[f] {
				maybe[s] = true
			}
		}
		for _, s := range collateral[key] {
			maybe[s] = true
		}
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			r, out, err := run(t, "--fault", strings.ReplaceAll(key, framework.PairSep, ","))
			var ee *exec.ExitError
			if err == nil || !asExit(err, &ee) || ee.ExitCode() != 1 {
				t.Errorf("cctest run --fault %s: want exit 1, got %v", key, err)
			}
			got := map[string]types.SpecReport{}
			var gotNames []string
			for _, sr := range r.SpecReports {
				if sr.LeafNodeType != types.NodeTypeIt || !sr.State.Is(types.SpecStateFailureStates) {
					continue
				}
				got[sr.LeafNodeText] = sr
				if !maybe[sr.LeafNodeText] || contains(want, sr.LeafNodeText) {
					gotNames = append(gotNames, sr.LeafNodeText)
				}
			}
			sort.Strings(gotNames)
			if strings.Join(gotNames, "\n") != strings.Join(want, "\n") {
				t.Errorf("fault %s: failed specs\n  %s\nwant exactly\n  %s\n%s", key,
					strings.Join(gotNames, "\n  "), strings.Join(want, "\n  "), tail(out, 40))
			}
			for _, name := range want {
				sr, ok := got[name]
				if !ok {
					continue
				}
				spec, _ := framework.Lookup(name)
				if why := notOwnFailure(sr, spec.Expected(key), slices.Contains(spec.WaitsFor, key)); why != "" {
					t.Errorf("fault %s: spec %q (%s) failed, but not through its own check: %s", key, name, spec.Where(), why)
				}
			}
		})
	}
}

// notOwnFailure says why a failed spec does not count as detecting the
// fault itself ("" = it counts): it must fail in its own body, in the
// suites' code, through an assertion that is not a timeout, saying what it
// declares it reports.
func notOwnFailure(sr types.SpecReport, expect string, waitIsTheCheck bool) string {
	msg := sr.Failure.Message
	first := strings.SplitN(strings.TrimSpace(msg), "\n", 2)[0]
	switch {
	case sr.State != types.SpecStateFailed:
		return fmt.Sprintf("it ended %s, not through a failed assertion: %s", sr.State, first)
	case sr.Failure.FailureNodeType != types.NodeTypeIt:
		return fmt.Sprintf("it failed in a %s node, not in its own body: %s", sr.Failure.FailureNodeType, first)
	case !strings.Contains(filepath.ToSlash(sr.Failure.Location.FileName), "/suites/"):
		return fmt.Sprintf("it failed at %s, outside the suites: %s", sr.Failure.Location, first)
	case isTimeout(msg) && !waitIsTheCheck:
		return "it failed through a timeout: " + first
	case expect == "":
		return "it declares no failure message (FailsWith)"
	}
	re, err := regexp.Compile(expect)
	if err != nil {
		return fmt.Sprintf("its FailsWith %q is not a regular expression: %v", expect, err)
	}
	if !re.MatchString(msg) {
		return fmt.Sprintf("its message does not match %q:\n%s", expect, msg)
	}
	return ""
}

// isTimeout recognises a failure that only says time ran out: Gomega's
// Eventually / context deadlines. A spec's own bounded wait that names
// what it waited for and what it saw instead is an assertion, not this.
func isTimeout(msg string) bool {
	msg = strings.TrimSpace(msg)
	return strings.HasPrefix(msg, "Timed out after") || strings.HasPrefix(msg, "Context was cancelled") ||
		strings.Contains(msg, "context deadline exceeded")
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
