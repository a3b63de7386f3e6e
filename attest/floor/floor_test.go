package floor_test

import (
	"strings"
	"testing"

	"github.com/cctest/cctest/attest/floor"
	"github.com/cctest/cctest/simulators/tee"
)

func rd(b byte) [64]byte {
	var out [64]byte
	for i := range out {
		out[i] = b
	}
	return out
}

func TestFloor(t *testing.T) {
	want := rd(7)
	tdx := func(o tee.TDXOptions) []byte {
		t.Helper()
		q, err := tee.NewTDXMachine(o).Quote(want)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	snp := func(o tee.SNPOptions) []byte {
		t.Helper()
		r, err := tee.MustNewSNPMachine(o).ExtendedReport(want)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	cases := []struct {
		name, tee string
		raw       []byte
		wantErr   string
	}{
		{"tdx v4", floor.TDX, tdx(tee.TDXOptions{Name: "a"}), ""},
		{"tdx v5 1.0 body", floor.TDX, tdx(tee.TDXOptions{Name: "a", QuoteVersion: 5, BodyType: tee.TDXBody10}), ""},
		{"tdx v5 1.5 body", floor.TDX, tdx(tee.TDXOptions{Name: "a", QuoteVersion: 5}), ""},
		{"tdx debug", floor.TDX, tdx(tee.TDXOptions{Name: "a", Debug: true}), "debug TD"},
		{"tdx v5 debug", floor.TDX, tdx(tee.TDXOptions{Name: "a", QuoteVersion: 5, Debug: true}), "debug TD"},
		{"snp v2", floor.SNP, snp(tee.SNPOptions{Name: "b", ReportVersion: 2}), ""},
		{"snp v3", floor.SNP, snp(tee.SNPOptions{Name: "b"}), ""},
		{"snp v5", floor.SNP, snp(tee.SNPOptions{Name: "b", ReportVersion: 5}), ""},
		{"snp debug", floor.SNP, snp(tee.SNPOptions{Name: "b", Debug: true}), "debug SEV-SNP guest"},
		{"tdx quote claimed as snp", floor.SNP, tdx(tee.TDXOptions{Name: "a"})[:1184], "SEV-SNP report: version 131076"},
		{"snp report claimed as tdx", floor.TDX, snp(tee.SNPOptions{Name: "b"}), "header TEE type"},
		{"sample TEE", "sample", []byte(`{"svn":"1","report_data":"AA=="}`), `TEE "sample" is not a hardware TEE`},
		{"empty", floor.TDX, nil, "shorter than its 48-byte header"},
		{"truncated tdx", floor.TDX, tdx(tee.TDXOptions{Name: "a"})[:300], "body is 252 bytes"},
		{"truncated snp", floor.SNP, snp(tee.SNPOptions{Name: "b"})[:1000], "1000 bytes, want 1184"},
	}
	for _, c := range cases {
		err := floor.Check(c.tee, c.raw, want[:])
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: got %v, want an error with %q", c.name, err, c.wantErr)
		}
	}
}

func TestFloorReportData(t *testing.T) {
	other := rd(9)
	q, err := tee.NewTDXMachine(tee.TDXOptions{Name: "a"}).Quote(other)
	if err != nil {
		t.Fatal(err)
	}
	want := rd(7)
	if err := floor.Check(floor.TDX, q, want[:]); err == nil || !strings.Contains(err.Error(), "REPORT_DATA 0909") {
		t.Errorf("replayed TDX quote: %v", err)
	}
	r, err := tee.MustNewSNPMachine(tee.SNPOptions{Name: "b"}).Report(other)
	if err != nil {
		t.Fatal(err)
	}
	if err := floor.Check(floor.SNP, r, want[:]); err == nil || !strings.Contains(err.Error(), "another request") {
		t.Errorf("replayed SNP report: %v", err)
	}
	if err := floor.Check(floor.SNP, r, want[:10]); err == nil || !strings.Contains(err.Error(), "10 bytes") {
		t.Errorf("short expectation: %v", err)
	}
}

// Every prefix of good evidence is refused with an error, never a panic.
func TestFloorTruncations(t *testing.T) {
	want := rd(1)
	q, _ := tee.NewTDXMachine(tee.TDXOptions{Name: "a", QuoteVersion: 5}).Quote(want)
	r, _ := tee.MustNewSNPMachine(tee.SNPOptions{Name: "b"}).Report(want)
	for n := 0; n < 1184; n++ {
		if n < 48+6+648 && floor.Check(floor.TDX, q[:n], want[:]) == nil {
			t.Fatalf("TDX quote cut at %d passes", n)
		}
		if floor.Check(floor.SNP, r[:n], want[:]) == nil {
			t.Fatalf("SNP report cut at %d passes", n)
		}
	}
}
