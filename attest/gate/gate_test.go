package gate_test

import (
	"context"
	"errors"
	"testing"

	"github.com/cctest/cctest/attest/device"
	"github.com/cctest/cctest/attest/gate"
	"github.com/cctest/cctest/attest/gatetrace"
	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/fixtures"
	"github.com/cctest/cctest/simulators/tee"
	"github.com/cctest/cctest/simulators/tee/simdevice"
)

func setup(t *testing.T, faults ...tee.Fault) (device.Device, *verifier.Verifier, *policy.Policy) {
	t.Helper()
	b, err := fixtures.Read("policies/platform.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	dev := simdevice.New(tee.NewTDXMachine(tee.TDXOptions{Name: "cvm-1", Faults: faults}))
	return dev, verifier.New(verifier.Options{TestRoots: tee.TestRoots()}), pol
}

// A passing VM joins, then writes a trace bound to its node name whose
// evidence verifies again.
func TestGateJoinsAndTraces(t *testing.T) {
	dev, v, pol := setup(t)
	check, err := gate.Attest(dev, v, pol, "cvm-1")
	if err != nil || !check.Verdict.Pass {
		t.Fatalf("attest: %v %+v", err, check.Verdict)
	}
	joined := false
	var written string
	err = check.Join(context.Background(), func(context.Context) error { joined = true; return nil },
		func(_ context.Context, node, value string) error {
			if !joined {
				t.Error("trace written before the join")
			}
			if node != "cvm-1" {
				t.Errorf("trace written on %q", node)
			}
			written = value
			return nil
		})
	if err != nil || !joined {
		t.Fatalf("join: %v (joined %v)", err, joined)
	}
	tr, err := gatetrace.Decode(written)
	if err != nil {
		t.Fatal(err)
	}
	rd, _ := tr.ReportData()
	if tr.Node() != "cvm-1" || !tr.Pass || !v.Verify(tr.Evidence, pol, rd[:]).Pass {
		t.Fatalf("trace does not verify for cvm-1: %+v", tr)
	}
}

// A VM with an unapproved image never runs the join and writes no trace.
func TestGateRefusesWithoutJoining(t *testing.T) {
	dev, v, pol := setup(t, tee.FaultWrongMeasurement)
	check, err := gate.Attest(dev, v, pol, "cvm-1")
	if err != nil {
		t.Fatal(err)
	}
	err = check.Join(context.Background(), func(context.Context) error { t.Error("join ran"); return nil },
		func(context.Context, string, string) error { t.Error("trace written"); return nil })
	var refused *gate.RefusedError
	if !errors.As(err, &refused) || refused.Reason == "" {
		t.Fatalf("want a RefusedError naming the reason, got %v", err)
	}
}

// A join that fails and a trace that cannot be written are told apart.
func TestGateJoinAndTraceErrors(t *testing.T) {
	dev, v, pol := setup(t)
	check, err := gate.Attest(dev, v, pol, "cvm-1")
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	var je *gate.JoinError
	if err := check.Join(context.Background(), func(context.Context) error { return boom }, nil); !errors.As(err, &je) || !errors.Is(err, boom) {
		t.Errorf("failing join: %v", err)
	}
	var te *gate.TraceError
	err = check.Join(context.Background(), func(context.Context) error { return nil },
		func(context.Context, string, string) error { return boom })
	if !errors.As(err, &te) || te.Node != "cvm-1" {
		t.Errorf("failing trace: %v", err)
	}
	if _, err := gate.Attest(nil, v, pol, "x"); err == nil {
		t.Error("no device: want an error")
	}
}
