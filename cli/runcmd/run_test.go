package runcmd

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cctest/cctest/fixtures"
	"github.com/cctest/cctest/framework"
	"github.com/cctest/cctest/internal/exitcode"
	"github.com/cctest/cctest/internal/testbin"
	"github.com/cctest/cctest/simulators/embedded"
	"github.com/spf13/cobra"
)

func TestDryRunListsEverySpec(t *testing.T) {
	out, err := exec.Command(testbin.Path(t), "run", "--dry-run", "--report-dir", t.TempDir()).CombinedOutput()
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "planned in") {
		t.Fatalf("no summary:\n%s", out)
	}
	// Only cctest's lines: one per spec with its labels, the table, the
	// summary; Ginkgo's own reporter speaks only with -v.
	for _, noise := range []string{"•", "Ran ", "Ginkgo", "Will run"} {
		if strings.Contains(string(out), noise) {
			t.Errorf("Ginkgo's reporter output (%q) in a dry run:\n%s", noise, out)
		}
	}
	lines := 0
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "[") && strings.Contains(l, "PLANNED") {
			lines++
			if !strings.Contains(l, "  [") {
				t.Errorf("dry-run line without labels: %q", l)
			}
		}
	}
	if lines != len(framework.SpecNames()) {
		t.Errorf("%d spec lines, want %d", lines, len(framework.SpecNames()))
	}
}

func TestBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--fault", "no-such-fault"}, `unknown fault "no-such-fault"`},
		{[]string{"--fault", "debug-td", "--kubeconfig", "x"}, "--fault applies to the embedded platform only"},
		{[]string{"--kubeconfig", "/nonexistent/kubeconfig"}, "/nonexistent/kubeconfig does not exist"},
		{[]string{"--env", "existing"}, "--env existing needs --kubeconfig"},
		{[]string{"--env", "kind"}, "cctest run --env kind needs a"}, // no container engine on CI machines
		{[]string{"--kubeconfig", "/nonexistent/kubeconfig", "--tee", "tdx"}, "--tee needs --path: cvm when the node VM is the TEE"},
		{[]string{"--kubeconfig", "/nonexistent/kubeconfig", "--tee", "tdx", "--path", "pod"}, "--tee needs --policy"},
		{[]string{"--path", "vm"}, `--path "vm": want cvm`},
		{[]string{"--tee", "tdx"}, "--tee is hardware qualification of a real tenant"},
		{[]string{"--context", "tenant"}, "--context, --host-context and --shared-tenant-context pick contexts of an existing environment's kubeconfigs (this run is --env embedded)"},
		{[]string{"--label-filter", "auto-nodes &&& tee:tdx"}, `--label-filter "auto-nodes &&& tee:tdx": Syntax Error Parsing Label Filter auto-nodes &&& tee:tdx Invalid token '&'. Did you mean '&&'?`},
	} {
		cmd := exec.Command(testbin.Path(t), append([]string{"run", "--report-dir", t.TempDir()}, c.args...)...)
		// No kubeconfig to fall back on (kubectl's convention is tested apart).
		cmd.Env = append(os.Environ(), "KUBECONFIG=", "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("run %v: err %v, output %q, want it to say %q", c.args, err, out, c.want)
		}
		// A missing kubeconfig or container engine is the environment's
		// problem (found when it starts); the rest are usage. Nothing ran.
		want := exitcode.Usage
		if strings.Contains(c.want, "does not exist") || strings.Contains(c.want, "--env kind needs a") {
			want = exitcode.Environment
		}
		if code, _ := exitStatus(err); code != want {
			t.Errorf("run %v: exit %d, want %d", c.args, code, want)
		}
		if strings.Contains(string(out), "\x1b[") {
			t.Errorf("run %v: ANSI escape codes in %q", c.args, out)
		}
	}
}

var kbsURL = regexp.MustCompile(`--kbs-url (\S+)`)

// TestExistingEnvironment runs the suites against a platform started
// separately with `cctest env up`, through its kubeconfigs only: the path a
// real tenant cluster takes. Every spec must run and pass there too.
func TestExistingEnvironment(t *testing.T) {
	bin := testbin.Path(t)
	dir := filepath.Join(t.TempDir(), "env")
	var upOut syncBuffer
	up := exec.Command(bin, "env", "up", "--dir", dir)
	up.Stdout, up.Stderr = &upOut, &upOut
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		up.Process.Signal(syscall.SIGTERM)
		up.Wait()
	}()
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(upOut.String(), "Stop with") {
		if time.Now().After(deadline) {
			t.Fatalf("env up not ready:\n%s", upOut.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !kbsURL.MatchString(upOut.String()) {
		t.Fatalf("env up names no KBS (--kbs-url):\n%s", upOut.String())
	}
	// Before any spec ran the tenant has no node, and without host access
	// no node type is visible: the survey stops the run at once.
	empty, err := exec.Command(bin, "run", "--report-dir", t.TempDir(), "--kubeconfig", filepath.Join(dir, "tenant.kubeconfig"),
		"--policy", filepath.Join(dir, "attestation-policy.yaml"), "--focus", "a TDX workload gets").CombinedOutput()
	if code, _ := exitStatus(err); code != exitcode.Environment || !strings.Contains(string(empty), "the tenant has no nodes and no node types") ||
		!strings.Contains(string(empty), "nodes: none") || strings.Contains(string(empty), "[1/") {
		t.Errorf("an empty tenant: exit %d, want %d with the survey and no spec run:\n%s", code, exitcode.Environment, empty)
	}
	r, out, err := run(t, "--env", "existing", "--kubeconfig", filepath.Join(dir, "tenant.kubeconfig"),
		"--host-kubeconfig", filepath.Join(dir, "host.kubeconfig"),
		"--shared-tenant-kubeconfig", filepath.Join(dir, "shared-tenant.kubeconfig"),
		"--policy", filepath.Join(dir, "attestation-policy.yaml"),
		// What `cctest env up` printed for the KBS: its URL, CA and admin key.
		"--kbs-url", kbsURL.FindStringSubmatch(upOut.String())[1],
		"--kbs-ca", filepath.Join(dir, "kbs-ca.pem"), "--kbs-admin-key", filepath.Join(dir, "kbs-admin.key"))
	if err != nil || len(failed(r)) > 0 {
		t.Fatalf("run against the existing environment: %v, failed %v\n%s", err, failed(r), out)
	}
	if got, want := r.PreRunStats.SpecsThatWillRun, len(framework.SpecNames()); got != want {
		t.Errorf("ran %d specs against the existing environment, the suites have %d", got, want)
	}

	// Without a policy and host access the run stops before any spec,
	// naming what is missing and which specs need it.
	tenantOnly := []string{"run", "--env", "existing", "--kubeconfig", filepath.Join(dir, "tenant.kubeconfig"),
		"--shared-tenant-kubeconfig", filepath.Join(dir, "shared-tenant.kubeconfig"), "--report-dir", t.TempDir()}
	stop, err := exec.Command(bin, tenantOnly...).CombinedOutput()
	if code, _ := exitStatus(err); code != exitcode.Usage {
		t.Fatalf("missing inputs: exit %d, want %d\n%s", code, exitcode.Usage, stop)
	}
	for _, want := range []string{string(framework.NeedPolicy), string(framework.NeedHostAccess), "no machine backs more than one node", "nothing was run"} {
		if !strings.Contains(string(stop), want) {
			t.Errorf("the stop message does not name %q:\n%s", want, stop)
		}
	}
	if strings.Contains(string(stop), "[1/") {
		t.Errorf("a spec ran although inputs were missing:\n%s", stop)
	}
	// --allow-missing runs them as skips that say why.
	skip, err := exec.Command(bin, append(tenantOnly, "--allow-missing", "--focus", "no machine backs")...).CombinedOutput()
	if err != nil || !strings.Contains(string(skip), "needs "+string(framework.NeedPolicy)) {
		t.Errorf("--allow-missing: %v\n%s", err, skip)
	}
	// --require-all refuses that skip, unless a waiver accepts it.
	strict := append(tenantOnly, "--allow-missing", "--focus", "no machine backs", "--require-all")
	refused, err := exec.Command(bin, strict...).CombinedOutput()
	if code, _ := exitStatus(err); code != exitcode.Failed || !strings.Contains(string(refused), "--require-all: Tenancy no machine backs more than one node skipped (needs an attestation policy") {
		t.Errorf("--require-all with a skip: exit %d\n%s", code, refused)
	}
	waived, err := exec.Command(bin, append(strict, "--waive", "no machine backs more than one node=this tenant has no policy yet")...).CombinedOutput()
	if err != nil {
		t.Errorf("--require-all with a waived skip: %v\n%s", err, waived)
	}
}

// TestInterrupt: SIGINT mid-run stops the specs, writes the reports gathered
// so far, stops the platform (no control-plane child left) and exits non-zero.
func TestInterrupt(t *testing.T) {
	dir := t.TempDir()
	var out syncBuffer
	cmd := exec.Command(testbin.Path(t), "run", "--report-dir", dir)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for !strings.Contains(out.String(), "[3/") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no progress within 3 minutes:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var exit *exec.ExitError
	if !asExit(err, &exit) || exit.ExitCode() != exitcode.Interrupted {
		t.Fatalf("interrupted run: %v, want exit %d\n%s", err, exitcode.Interrupted, out.String())
	}
	if !strings.Contains(out.String(), "interrupted (SIGINT/SIGTERM)") {
		t.Errorf("the verdict does not say the run was interrupted:\n%s", out.String())
	}
	for _, f := range []string{"report.json", "junit.xml"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s not written after SIGINT: %v", f, err)
		}
	}
	// Children get SIGKILL when the run dies (Pdeathsig); give the kernel a moment.
	time.Sleep(500 * time.Millisecond)
	if left := processesMentioning(filepath.Join(dir, "platform")); len(left) > 0 {
		t.Errorf("control-plane processes left after SIGINT: %v", left)
	}
}

// TestVendorRootsRejectSimulatedEvidence: a policy that trusts only vendor
// roots fails the run on simulated evidence, and says it chains to a test root.
func TestVendorRootsRejectSimulatedEvidence(t *testing.T) {
	b, err := fixtures.Read(embedded.DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	vendorOnly := strings.Replace(string(b), "trustRoots: [simulated]", "trustRoots: [vendor]", 1)
	if vendorOnly == string(b) {
		t.Fatal("the platform policy no longer says trustRoots: [simulated]; update this test")
	}
	pol := filepath.Join(t.TempDir(), "vendor-only.yaml")
	if err := os.WriteFile(pol, []byte(vendorOnly), 0o644); err != nil {
		t.Fatal(err)
	}
	r, out, err := run(t, "--policy", pol, "--focus", "re-attested")
	if err == nil {
		t.Fatalf("a run on simulated evidence passed a vendor-roots policy:\n%s", out)
	}
	const reattest = "every confidential node is re-attested by a probe with the spec's own nonce"
	msg, ok := failed(r)[reattest]
	if !ok || !strings.Contains(msg, "chains to the cctest TEST root") {
		t.Fatalf("want %q to fail naming the test root; failed: %v", reattest, failed(r))
	}
}

func exitStatus(err error) (int, bool) {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), true
	}
	return 0, false
}

// `cctest completion` completes the values of --fault (with descriptions),
// --env, --tee and --label-filter.
func TestFlagCompletion(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--fault", "debug"}, []string{"debug-td\tTDX machines boot as debug TDs"}},
		{[]string{"--env", "e"}, []string{"embedded", "existing"}},
		{[]string{"--tee", ""}, []string{"tdx", "snp"}},
		{[]string{"--label-filter", "tee:"}, []string{"tee:snp", "tee:tdx"}},
	} {
		var out bytes.Buffer
		root := &cobra.Command{Use: "cctest"}
		root.AddCommand(New())
		root.SetOut(&out)
		root.SetArgs(append([]string{cobra.ShellCompRequestCmd, "run"}, c.args...))
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		got := strings.Split(strings.TrimSpace(out.String()), "\n")
		got = got[:len(got)-1] // the directive line
		if len(got) != len(c.want) {
			t.Errorf("complete %v: %q, want %q", c.args, got, c.want)
			continue
		}
		for i := range got {
			if !strings.HasPrefix(got[i], c.want[i]) {
				t.Errorf("complete %v: %q, want %q", c.args, got, c.want)
			}
		}
	}
}

// --rerun-failed reruns exactly what failed: a run under a fault fails two
// of three specs; the rerun, without the fault, runs those two and passes.
func TestRerunFailed(t *testing.T) {
	bin := testbin.Path(t)
	first := t.TempDir()
	out, err := exec.Command(bin, "run", "--report-dir", first, "--fault", "node-shared-across-tenants",
		"--focus", "no machine backs|every machine of a node type|a TDX workload gets").CombinedOutput()
	if code, _ := exitStatus(err); code != exitcode.Failed {
		t.Fatalf("faulted run: exit %d\n%s", code, out)
	}
	again, err := exec.Command(bin, "run", "--report-dir", t.TempDir(), "--rerun-failed", first).CombinedOutput()
	if err != nil {
		t.Fatalf("rerun: %v\n%s", err, again)
	}
	for _, want := range []string{"Rerunning the 2 spec(s) that failed", "[2/2] PASSED", "no machine backs more than one node", "every machine of a node type"} {
		if !strings.Contains(string(again), want) {
			t.Errorf("rerun output lacks %q:\n%s", want, again)
		}
	}
	if strings.Contains(string(again), "PASSED    0.0s  Auto nodes a TDX") || strings.Count(string(again), "PASSED") != 2 {
		t.Errorf("the rerun ran a spec that had passed:\n%s", again)
	}
}

func TestFailedIn(t *testing.T) {
	focus, err := failedIn(filepath.Join("..", "..", "reports", "testdata", "tampered-quote.json"))
	if err != nil || len(focus) != 13 {
		t.Fatalf("failedIn = %d specs, %v; want the report's 13 failures", len(focus), err)
	}
	if _, err := failedIn(filepath.Join(t.TempDir(), "nothing-here")); err == nil || !strings.Contains(err.Error(), "nothing-here") {
		t.Errorf("a missing report: %v", err)
	}
}

// --list-images prints what a run pulls, one per line, and starts nothing.
func TestListImages(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--kubeconfig", "/dev/null", "--probe-image", "registry.example.com/cctest/probe:v1"}, "registry.example.com/cctest/probe:v1\n"},
		{[]string{"--kubeconfig", "/dev/null"}, framework.DefaultProbeImage + "\n"},
		{nil, ""}, // the embedded platform pulls nothing
	} {
		var out bytes.Buffer
		cmd := New()
		cmd.SetOut(&out)
		cmd.SetArgs(append([]string{"--list-images", "--report-dir", t.TempDir()}, c.args...))
		if err := cmd.Execute(); err != nil || out.String() != c.want {
			t.Errorf("%v: %q, %v; want %q", c.args, out.String(), err, c.want)
		}
	}
}

// A failure's headline says what went wrong: for a wait Gomega gave up on,
// the description and the line after the "Timed out" / "Told to stop
// trying" preamble.
func TestFirstLine(t *testing.T) {
	for in, want := range map[string]string{
		"plain failure\nExpected x": "plain failure",
		"pod a/b did not reach Running\nTold to stop trying after 0.4s.\npod a/b will not run: AttestationFailed: debug\nmore":                                                                           "pod a/b did not reach Running: pod a/b will not run: AttestationFailed: debug",
		"Told to stop trying after 0.5s.\nevery machine takes one pod\nall 4 pods run\nAt one point":                                                                                                     "every machine takes one pod: all 4 pods run",
		"Timed out after 45.001s.\npod a/b did not reach Running\nExpected success, but got an error:\n    <*errors.errorString | 0xc000>: \n    pod a/b is not Running after 45s: phase Pending\n    {": "pod a/b did not reach Running: pod a/b is not Running after 45s: phase Pending",
		"Timed out after 45s.\nno node for pod a/b":  "no node for pod a/b",
		"snp-large capacity\nTimed out after 60s.\n": "snp-large capacity",
	} {
		if got := firstLine(in); got != want {
			t.Errorf("firstLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseWaivers(t *testing.T) {
	w, err := parseWaivers([]string{"no machine backs more than one node = no policy here"})
	if err != nil || w["no machine backs more than one node"] != "no policy here" {
		t.Fatalf("parseWaivers = %v, %v", w, err)
	}
	for in, want := range map[string]string{
		"no machine backs more than one node":  "want 'SPEC NAME=reason'",
		"no machine backs more than one node=": "want 'SPEC NAME=reason'",
		"no such spec=because":                 `no spec is named "no such spec"`,
	} {
		if _, err := parseWaivers([]string{in}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseWaivers(%q) = %v, want an error naming %q", in, err, want)
		}
	}
}
