// Package layout holds the test that keeps imports running downward (see
// the layout section of DESIGN.md): the libraries that run on real nodes or
// judge real evidence never depend on the simulators or the commands.
package layout

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/cctest/cctest/"

// rules: packages matching a pattern must not depend on any package under
// the forbidden prefixes.
var rules = []struct {
	pattern   string
	forbidden []string
	why       string
}{
	{"attest/...", []string{"simulators/", "cli/"}, "the verifier and devices judge real evidence; test roots are injected by callers"},
	{"probe/...", []string{"simulators/", "cli/"}, "the probe runs on real nodes"},
	{"config/...", []string{"simulators/", "cli/"}, "configuration is read for real platforms"},
	{"api/...", []string{"simulators/", "cli/"}, "the platform API types are the real platform's"},
	{"netpol/...", []string{"simulators/", "cli/"}, "NetworkPolicy evaluation is a library"},
	{"reports/...", []string{"simulators/", "cli/"}, "reports render any run"},
	{"bundle/...", []string{"simulators/", "cli/"}, "a release gate verifies bundles without the harness"},
	{"cmd/cctest-probe", []string{"simulators/"}, "the probe binary runs on real nodes and links no test keys"},
}

func TestImportsRunDownward(t *testing.T) {
	for _, r := range rules {
		out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}} {{join .Deps " "}}`, module+r.pattern).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", r.pattern, err, out)
		}
		checked := 0
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			fields := strings.Fields(line)
			if len(fields) == 0 || !inPattern(fields[0], r.pattern) {
				continue
			}
			checked++
			for _, dep := range fields[1:] {
				for _, bad := range r.forbidden {
					if strings.HasPrefix(dep, module+bad) {
						t.Errorf("%s depends on %s: %s", strings.TrimPrefix(fields[0], module), strings.TrimPrefix(dep, module), r.why)
					}
				}
			}
		}
		if checked == 0 {
			t.Errorf("rule %s matched no package", r.pattern)
		}
	}
}

func inPattern(pkg, pattern string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == module+base || strings.HasPrefix(pkg, module+base+"/")
	}
	return pkg == module+pattern
}
