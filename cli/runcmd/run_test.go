package runcmd

import (
	"os/exec"
	"strings"
	"testing"

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
