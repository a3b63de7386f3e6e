package simdevice

import (
	"testing"

	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/fixtures"
	"github.com/cctest/cctest/simulators/tee"
)

func TestSimulatedDevicesVerify(t *testing.T) {
	for _, tc := range []struct {
		m      tee.Machine
		policy string
	}{
		{tee.NewTDXMachine(tee.TDXOptions{Name: "dev-tdx"}), "tdx-simulated.yaml"},
		{tee.MustNewSNPMachine(tee.SNPOptions{Name: "dev-snp", ProductLine: tee.Genoa}), "snp-simulated.yaml"},
	} {
		d := New(tc.m)
		rd := verifier.BindReportData([]byte("n"), "device-test")
		ev, err := d.Evidence(rd)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := fixtures.Read("policies/" + tc.policy)
		p, err := policy.Load(data)
		if err != nil {
			t.Fatal(err)
		}
		if vd := verifier.New(verifier.Options{TestRoots: tee.TestRoots()}).Verify(ev, p, rd[:]); !vd.Pass || vd.Source != "simulated:"+tc.m.Name() {
			t.Fatalf("%s: %s (source %q)", d.Describe(), vd.Reason, vd.Source)
		}
	}
}
