package probeimagecmd

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cctest/cctest/internal/exitcode"
)

// Bad input is a usage error naming the problem, before anything is built
// or sent (the happy paths are probe/image's TestBuildReadsBack and
// TestPushToARegistry).
func TestUsageErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-probe")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"build"}, "--output: where to write"},
		{[]string{"build", "--output", filepath.Join(t.TempDir(), "p.tar"), "--binary", missing}, "build it with `make probe`"},
		{[]string{"push", "Not A Ref"}, "want REGISTRY/REPO:TAG"},
		{[]string{"push", "registry.example.com/cctest/probe:v1", "--binary", missing}, "build it with `make probe`"},
	} {
		cmd := New()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(c.args)
		err := cmd.Execute()
		if code, _ := exitcode.Of(err); code != exitcode.Usage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: exit %d, %v; want usage naming %q", c.args, code, err, c.want)
		}
	}
}
