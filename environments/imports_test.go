package environments

import (
	"os/exec"
	"strings"
	"testing"
)

// Imports run downward: cli → framework → environments → simulators. No
// package under environments/ may depend on framework, suites or cli.
func TestImportDirection(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/cctest/cctest/"
	for _, p := range strings.Fields(string(out)) {
		for _, banned := range []string{"framework", "suites", "cli"} {
			if p == mod+banned || strings.HasPrefix(p, mod+banned+"/") {
				t.Errorf("environments depends on %s", p)
			}
		}
	}
}
