package runcmd

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cctest/cctest/framework"
	"github.com/cctest/cctest/internal/testbin"
)

func TestDryRunListsEverySpec(t *testing.T) {
	out, err := exec.Command(testbin.Path(t), "run", "--dry-run", "--report-dir", t.TempDir()).CombinedOutput()
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "planned in") {
		t.Fatalf("no summary:\n%s", out)
	}
}

func TestBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--fault", "no-such-fault"}, `unknown fault "no-such-fault"`},
		{[]string{"--fault", "debug-td", "--kubeconfig", "x"}, "--fault applies to the embedded platform only"},
		{[]string{"--kubeconfig", "/nonexistent/kubeconfig"}, "--kubeconfig /nonexistent/kubeconfig"},
	} {
		out, err := exec.Command(testbin.Path(t), append([]string{"run", "--report-dir", t.TempDir()}, c.args...)...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("run %v: err %v, output %q, want it to say %q", c.args, err, out, c.want)
		}
	}
}

// TestExistingEnvironment runs the suites against a platform started
// separately with `cctest env up`, through its kubeconfigs only: the path a
// real tenant cluster takes. Every spec must run and pass there too.
func TestExistingEnvironment(t *testing.T) {
	bin := testbin.Path(t)
	dir := filepath.Join(t.TempDir(), "env")
	var upOut bytes.Buffer
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
	r, out, err := run(t, "--kubeconfig", filepath.Join(dir, "tenant.kubeconfig"),
		"--host-kubeconfig", filepath.Join(dir, "host.kubeconfig"),
		"--shared-tenant-kubeconfig", filepath.Join(dir, "shared-tenant.kubeconfig"),
		"--policy", filepath.Join(dir, "attestation-policy.yaml"))
	if err != nil || len(failed(r)) > 0 {
		t.Fatalf("run against the existing environment: %v, failed %v\n%s", err, failed(r), out)
	}
	if got, want := r.PreRunStats.SpecsThatWillRun, len(framework.SpecNames()); got != want {
		t.Errorf("ran %d specs against the existing environment, the suites have %d", got, want)
	}
}
