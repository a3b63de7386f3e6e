package framework

import (
	"strings"
	"testing"
)

func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), want) {
			t.Fatalf("panic = %v, want one containing %q", r, want)
		}
	}()
	f()
}

func TestUnknownLabelFailsTheSuiteBuild(t *testing.T) {
	mustPanic(t, `unknown label "tee:sgx"`, func() { Label("attestation", "tee:sgx") })
	if got := Label("attestation", "tee:tdx"); len(got) != 2 {
		t.Fatalf("labels = %v", got)
	}
}

func TestDuplicateSpecNameFailsTheSuiteBuild(t *testing.T) {
	Declare(Spec{Name: "unique spec for the registry test", Checklist: ChecklistAutoNodes})
	mustPanic(t, `duplicate spec name "unique spec for the registry test"`, func() {
		Declare(Spec{Name: "unique spec for the registry test", Checklist: ChecklistAutoNodes})
	})
	mustPanic(t, `unknown label "tee:sgx"`, func() {
		Declare(Spec{Name: "a spec with a bad label", Labels: []string{"tee:sgx"}, Checklist: ChecklistAutoNodes})
	})
	mustPanic(t, "names no seed checklist item", func() { Declare(Spec{Name: "a spec without a checklist item"}) })
}

func TestDetectorsAndUncovered(t *testing.T) {
	Declare(Spec{Name: "spec b", Checklist: ChecklistAutoNodes, BrokenBy: []string{"fault-x"}})
	Declare(Spec{Name: "spec a", Checklist: ChecklistAutoNodes, BrokenBy: []string{"fault-x", "fault-y"}, MayAlsoFailUnder: []string{"fault-z"}})
	Declare(Spec{Name: "spec c", Checklist: ChecklistAutoNodes})
	d := Detectors()
	if strings.Join(d["fault-x"], ",") != "spec a,spec b" || len(d["fault-y"]) != 1 {
		t.Fatalf("detectors = %v", d)
	}
	if c := Collateral(); len(c["fault-z"]) != 1 {
		t.Fatalf("collateral = %v", c)
	}
	var un []string
	for _, s := range Uncovered() {
		un = append(un, s.Name)
	}
	if !strings.Contains(strings.Join(un, ","), "spec c") || strings.Contains(strings.Join(un, ","), "spec a") {
		t.Fatalf("uncovered = %v", un)
	}
}
