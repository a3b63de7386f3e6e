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
	Spec("unique spec for the registry test", "a.go")
	mustPanic(t, `duplicate spec name "unique spec for the registry test"`, func() { Spec("unique spec for the registry test", "b.go") })
}

func TestDetectors(t *testing.T) {
	Detects("spec b", "fault-x")
	Detects("spec a", "fault-x", "fault-y")
	d := Detectors()
	if strings.Join(d["fault-x"], ",") != "spec a,spec b" || len(d["fault-y"]) != 1 {
		t.Fatalf("detectors = %v", d)
	}
}
