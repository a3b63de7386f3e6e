package faults

import (
	"strings"
	"testing"
)

var (
	testDebug  = Declare("test-debug", "a fault for this test")
	testEgress = Declare("test-egress", "another fault for this test")
)

func TestParse(t *testing.T) {
	s, err := Parse(testDebug, " ", testEgress)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Has(testDebug) || !s.Has(testEgress) || s.Has("tampered-quote") {
		t.Fatalf("set = %v", s)
	}
	if got := strings.Join(s.Names(), ","); got != "test-debug,test-egress" {
		t.Fatalf("names = %s", got)
	}
	_, err = Parse("test-debugx")
	if err == nil || !strings.Contains(err.Error(), `unknown fault "test-debugx"`) || !strings.Contains(err.Error(), testDebug) {
		t.Fatalf("err = %v", err)
	}
	var none Set
	if none.Has(testDebug) {
		t.Fatal("nil set has a fault")
	}
}

func TestComponentIsTheDeclaringPackage(t *testing.T) {
	f, ok := Lookup(testDebug)
	if !ok || f.Component != "faults" {
		t.Fatalf("fault = %+v", f)
	}
	if got := callerPackage("github.com/cctest/cctest/simulators/tee.init.func1"); got != "simulators/tee" {
		t.Fatalf("callerPackage = %q", got)
	}
}

func TestDeclaringTwicePanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), `"test-debug" declared twice`) {
			t.Fatalf("panic = %v", r)
		}
	}()
	Declare(testDebug, "again")
}
