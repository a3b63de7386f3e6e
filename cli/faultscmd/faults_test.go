package faultscmd

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/framework"
)

func run(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	cmd := New()
	cmd.SetOut(&out)
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestListsEveryFault(t *testing.T) {
	out := run(t)
	all := faults.All()
	if len(all) < 21 {
		t.Fatalf("the catalogue has %d faults; the simulators declare 21", len(all))
	}
	for _, f := range all {
		if !strings.Contains(out, f.Name) || !strings.Contains(out, f.Description) || !strings.HasPrefix(f.Component, "simulators/") {
			t.Errorf("fault %+v missing from the listing or declared outside the simulators", f)
		}
	}
}

// The spec and fault declarations agree: every fault names at least one
// spec it must break, and no spec names a fault nobody declares.
func TestDeclarationsAgree(t *testing.T) {
	for _, p := range Problems() {
		t.Error(p)
	}
}

func TestUncoveredListsSpecsNoFaultBreaks(t *testing.T) {
	out := run(t, "--uncovered")
	un := framework.Uncovered()
	for _, s := range un {
		if !strings.Contains(out, s.Name) {
			t.Errorf("uncovered spec %q not listed", s.Name)
		}
	}
	for _, s := range framework.Specs() {
		if len(s.BrokenBy) > 0 && strings.Contains(out, s.Name+" ") {
			t.Errorf("spec %q has faults but is listed as uncovered", s.Name)
		}
	}
	t.Logf("%d uncovered specs", len(un))
}
