package tee

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/cctest/cctest/api/teename"

	"github.com/cctest/cctest/simulators/tee/testpki"
	sevabi "github.com/google/go-sev-guest/abi"
	sevclient "github.com/google/go-sev-guest/client"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	sevvalidate "github.com/google/go-sev-guest/validate"
	sevverify "github.com/google/go-sev-guest/verify"
	sevtrust "github.com/google/go-sev-guest/verify/trust"
	tdxabi "github.com/google/go-tdx-guest/abi"
	tdxclient "github.com/google/go-tdx-guest/client"
	tdxpb "github.com/google/go-tdx-guest/proto/tdx"
	tdxverify "github.com/google/go-tdx-guest/verify"
	"github.com/google/logger"
)

func init() { logger.Init("test", false, false, discard{}) }

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

var nonce = [64]byte{1, 2, 3}

func verifyTDX(t *testing.T, raw []byte, collateral bool) error {
	t.Helper()
	q, err := tdxabi.QuoteToProto(raw)
	if err != nil {
		return err
	}
	now := time.Now()
	opts := &tdxverify.Options{TrustedRoots: testpki.IntelRootPool(),
		Now: &tdxverify.TimeSet{PckCertChain: now, TcbInfo: now, QeIdentity: now, PckCrl: now, RootCaCrl: now}}
	if collateral {
		opts.GetCollateral, opts.CheckRevocations, opts.Getter = true, true, TDXGetter{NewPCS()}
	}
	return tdxverify.TdxQuote(q, opts)
}

func snpRoots() map[string][]*sevtrust.AMDRootCerts {
	out := map[string][]*sevtrust.AMDRootCerts{}
	for _, l := range testpki.ProductLines {
		r := sevtrust.AMDRootCertsProduct(l)
		r.ProductCerts = &sevtrust.ProductCerts{Ark: testpki.ARK(l), Ask: testpki.ASK(l), Asvk: testpki.ASVK(l)}
		out[l] = []*sevtrust.AMDRootCerts{r}
	}
	return out
}

func verifySNP(t *testing.T, raw []byte, revocations bool) error {
	t.Helper()
	att, err := sevabi.ReportCertsToProto(raw)
	if err != nil {
		return err
	}
	opts := &sevverify.Options{TrustedRoots: snpRoots(), DisableCertFetching: true, Now: time.Now()}
	if revocations {
		opts.CheckRevocations, opts.Getter = true, SNPGetter{NewKDS()}
	}
	if err := sevverify.SnpAttestation(att, opts); err != nil {
		return err
	}
	vmpl := 0
	return sevvalidate.SnpAttestation(att, &sevvalidate.Options{
		GuestPolicy: sevabi.SnpPolicy{SMT: true}, ReportData: nonce[:], Measurement: DefaultSNPMeas, VMPL: &vmpl})
}

func TestTDXQuoteVerifiesWithTheRealLibrary(t *testing.T) {
	m := NewTDXMachine(TDXOptions{Name: "node-a"})
	raw, err := tdxclient.GetRawQuote(TDXQuoteProvider{m}, nonce)
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyTDX(t, raw, false); err != nil {
		t.Fatalf("offline verify: %v", err)
	}
	if err := verifyTDX(t, raw, true); err != nil {
		t.Fatalf("collateral verify: %v", err)
	}
}

// Quote v5 with both body types: go-tdx-guest parses the TDX 1.5 fields
// where the simulator put them and verifies the signature over header ||
// body descriptor || body, offline and with collateral.
func TestTDXQuoteV5VerifiesWithTheRealLibrary(t *testing.T) {
	svn2, svcTD := []byte{4, 0, 5}, bytes.Repeat([]byte{0xab}, 48)
	for _, bt := range []uint16{TDXBody10, TDXBody15} {
		m := NewTDXMachine(TDXOptions{Name: "v5", QuoteVersion: 5, BodyType: bt, TeeTcbSvn2: svn2, MrServiceTd: svcTD})
		raw, err := m.Quote(nonce)
		if err != nil {
			t.Fatal(err)
		}
		for _, coll := range []bool{false, true} {
			if err := verifyTDX(t, raw, coll); err != nil {
				t.Fatalf("body type %d (collateral %v): %v", bt, coll, err)
			}
		}
		q, _ := tdxabi.QuoteToProto(raw)
		d := q.(*tdxpb.QuoteV5).GetTdQuoteBodyDescriptor()
		b := d.GetTdQuoteBodyV5()
		if d.GetTdQuoteBodyType() != int32(bt) || !bytes.Equal(b.GetMrTd(), DefaultMRTD) || !bytes.Equal(b.GetReportData(), nonce[:]) {
			t.Fatalf("body type %d: parsed %v", bt, d)
		}
		if bt == TDXBody15 && (!bytes.Equal(b.GetTeeTcbSvn2()[:3], svn2) || !bytes.Equal(b.GetMrServiceTd(), svcTD)) {
			t.Fatalf("TDX 1.5 fields: %x %x", b.GetTeeTcbSvn2(), b.GetMrServiceTd())
		}
		if SignatureOffset(raw) != QuoteOffsetSignature+V5BodyShift+map[uint16]int{TDXBody10: 0, TDXBody15: 64}[bt] {
			t.Fatalf("SignatureOffset %d", SignatureOffset(raw))
		}
		// The tampered fault still hits a signed byte in v5.
		bad, _ := NewTDXMachine(TDXOptions{Name: "v5t", QuoteVersion: 5, BodyType: bt, Faults: []Fault{FaultTampered}}).Quote(nonce)
		if err := verifyTDX(t, bad, false); err == nil || !strings.Contains(err.Error(), "unable to verify message digest") {
			t.Fatalf("tampered v5: %v", err)
		}
	}
	for _, o := range []TDXOptions{{QuoteVersion: 3}, {QuoteVersion: 5, BodyType: 1}} {
		if _, err := NewTDXMachine(o).Quote(nonce); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestSNPReportVerifiesWithTheRealLibrary(t *testing.T) {
	for _, line := range []string{Milan, Genoa} {
		for _, v := range []uint32{2, 3, 5} {
			m := MustNewSNPMachine(SNPOptions{Name: "node-b", ProductLine: line, ReportVersion: v})
			att, err := sevclient.GetQuoteProto(SNPQuoteProvider{m}, nonce)
			if err != nil {
				t.Fatal(err)
			}
			if att.Report.Version != v {
				t.Fatalf("version %d", att.Report.Version)
			}
			raw, _ := m.ExtendedReport(nonce)
			if err := verifySNP(t, raw, true); err != nil {
				t.Fatalf("%s v%d: %v", line, v, err)
			}
		}
	}
}

// VLEK-signed reports (AWS): go-sev-guest verifies VLEK -> ASVK -> ARK and
// validates them; the report carries no chip identity.
func TestSNPVLEKReportVerifiesWithTheRealLibrary(t *testing.T) {
	for _, line := range []string{Milan, Genoa} {
		for _, v := range []uint32{2, 3, 5} {
			m := MustNewSNPMachine(SNPOptions{Name: "aws", ProductLine: line, ReportVersion: v, VLEK: true})
			raw, err := m.ExtendedReport(nonce)
			if err != nil {
				t.Fatal(err)
			}
			if err := verifySNP(t, raw, true); err != nil {
				t.Fatalf("%s v%d: %v", line, v, err)
			}
			att, _ := sevabi.ReportCertsToProto(raw)
			info, _ := sevabi.ParseSignerInfo(att.GetReport().GetSignerInfo())
			if info.SigningKey != sevabi.VlekReportSigner || !bytes.Equal(att.GetReport().GetChipId(), make([]byte, 64)) || len(att.GetCertificateChain().GetVlekCert()) == 0 {
				t.Fatalf("%s v%d: signer %v, chip %x", line, v, info.SigningKey, att.GetReport().GetChipId())
			}
		}
	}
	m := MustNewSNPMachine(SNPOptions{Name: "aws", VLEK: true})
	if _, err := m.VCEK(); err == nil {
		t.Error("a VLEK machine handed out a VCEK")
	}
	raw, _ := m.Report(nonce)
	att, _ := sevabi.ReportToProto(raw)
	err := sevverify.SnpAttestation(&spb.Attestation{Report: att, CertificateChain: &spb.CertificateChain{}},
		&sevverify.Options{TrustedRoots: snpRoots(), DisableCertFetching: true, Now: time.Now()})
	if err == nil || !strings.Contains(err.Error(), "missing VLEK certificate") {
		t.Errorf("bare VLEK report: %v", err)
	}
	forged, _ := MustNewSNPMachine(SNPOptions{Name: "aws-forged", VLEK: true, Faults: []Fault{FaultForgedChain}}).ExtendedReport(nonce)
	if err := verifySNP(t, forged, false); err == nil || !strings.Contains(err.Error(), "VLEK could not be verified by any trusted roots") {
		t.Errorf("forged ASVK: %v", err)
	}
}

// Provisional firmware: go-sev-guest validate refuses CURRENT_TCB newer
// than COMMITTED_TCB unless PermitProvisionalFirmware is set.
func TestSNPProvisionalFirmware(t *testing.T) {
	newer := DefaultSNPTCB[Milan]
	newer.SnpSpl++
	raw, err := MustNewSNPMachine(SNPOptions{Name: "prov", ProvisionalTCB: &newer}).ExtendedReport(nonce)
	if err != nil {
		t.Fatal(err)
	}
	att, _ := sevabi.ReportCertsToProto(raw)
	if err := sevverify.SnpAttestation(att, &sevverify.Options{TrustedRoots: snpRoots(), DisableCertFetching: true, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	vmpl := 0
	o := &sevvalidate.Options{GuestPolicy: sevabi.SnpPolicy{SMT: true}, VMPL: &vmpl}
	if err := sevvalidate.SnpAttestation(att, o); err == nil || !strings.Contains(err.Error(), "does not match the report's CURRENT_TCB") {
		t.Fatalf("committed firmware required: %v", err)
	}
	o.PermitProvisionalFirmware = true
	if err := sevvalidate.SnpAttestation(att, o); err != nil {
		t.Fatalf("provisional firmware permitted: %v", err)
	}
}

func TestFaultsAreVisibleToTheLibraries(t *testing.T) {
	tdxWant := map[Fault]string{
		FaultTampered:      "unable to verify message digest",
		FaultUntrustedRoot: "certificate signed by unknown authority",
		FaultForgedChain:   "unable to validate Intermediate CA certificate",
		FaultExpiredCert:   "expired",
		FaultRevoked:       "PCK Leaf certificate in PCK certificate chain was revoked",
	}
	for f, want := range tdxWant {
		raw, err := NewTDXMachine(TDXOptions{Name: "f-" + string(f), Faults: []Fault{f}}).Quote(nonce)
		if err != nil {
			t.Fatal(err)
		}
		err = verifyTDX(t, raw, f == FaultRevoked)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("TDX %s: err = %v, want %q", f, err, want)
		}
	}
	snpWant := map[Fault]string{
		FaultTampered:         "report signature verification error",
		FaultUntrustedRoot:    "could not be verified by any trusted roots",
		FaultForgedChain:      "could not be verified by any trusted roots",
		FaultExpiredCert:      "expired",
		FaultDebug:            "unauthorized debug capability",
		FaultMigratable:       "unauthorized migration agent",
		FaultVMPL:             "report VMPL 1 is not 0",
		FaultWrongMeasurement: "MEASUREMENT",
	}
	for f, want := range snpWant {
		raw, err := MustNewSNPMachine(SNPOptions{Name: "f-" + string(f), Faults: []Fault{f}}).ExtendedReport(nonce)
		if err != nil {
			t.Fatal(err)
		}
		err = verifySNP(t, raw, false)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("SNP %s: err = %v, want %q", f, err, want)
		}
	}
}

func TestMachinesAreDeterministicFromTheirName(t *testing.T) {
	a := MustNewSNPMachine(SNPOptions{Name: "n1"})
	b := MustNewSNPMachine(SNPOptions{Name: "n1"})
	c := MustNewSNPMachine(SNPOptions{Name: "n2"})
	if string(a.ChipID()) != string(b.ChipID()) || string(a.ChipID()) == string(c.ChipID()) {
		t.Fatal("CHIP_ID must derive from the name")
	}
	x, y := NewTDXMachine(TDXOptions{Name: "n1"}), NewTDXMachine(TDXOptions{Name: "n1"})
	px, _ := x.PCKCertificate()
	py, _ := y.PCKCertificate()
	if string(px.Extensions[len(px.Extensions)-1].Value[:40]) != string(py.Extensions[len(py.Extensions)-1].Value[:40]) {
		t.Fatal("PPID must derive from the name")
	}
	if _, err := NewSNPMachine(SNPOptions{ReportVersion: 4}); err == nil {
		t.Fatal("report version 4 accepted")
	}
	if _, err := ParseFault(teename.SNP, "changed-cmdline"); err == nil {
		t.Fatal("changed-cmdline is TDX-only")
	}
	if len(Faults(teename.TDX)) != 12 || len(Faults(teename.SNP)) != 12 {
		t.Fatalf("faults: %v / %v", Faults(teename.TDX), Faults(teename.SNP))
	}
}

func TestPCSAndKDSOverHTTP(t *testing.T) {
	h := Handler(NewPCS(), NewKDS())
	for _, u := range []string{
		"https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=50806f000000",
		"https://api.trustedservices.intel.com/tdx/certification/v4/qe/identity",
		"https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der",
		"https://certificates.trustedservices.intel.com/IntelSGXRootCA.der",
		"https://kdsintf.amd.com/vcek/v1/Milan/cert_chain",
		"https://kdsintf.amd.com/vcek/v1/Genoa/crl",
		"https://kdsintf.amd.com/vlek/v1/Milan/cert_chain",
		"https://kdsintf.amd.com/vlek/v1/Genoa/crl",
	} {
		if _, _, err := (getter{h}).do(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	if _, _, err := (getter{h}).do("https://kdsintf.amd.com/vcek/v1/Turin/cert_chain"); err == nil {
		t.Error("unknown product line served")
	}
}

// Other simulators create hundreds of machines: creation must be cheap.
func BenchmarkNewTDXMachine(b *testing.B) {
	for i := 0; i < b.N; i++ {
		NewTDXMachine(TDXOptions{Name: "bench"})
	}
}

func BenchmarkNewSNPMachine(b *testing.B) {
	for i := 0; i < b.N; i++ {
		MustNewSNPMachine(SNPOptions{Name: "bench"})
	}
}

func BenchmarkMintTDXQuote(b *testing.B) {
	m := NewTDXMachine(TDXOptions{Name: "bench"})
	for i := 0; i < b.N; i++ {
		if _, err := m.Quote(nonce); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMintSNPReport(b *testing.B) {
	m := MustNewSNPMachine(SNPOptions{Name: "bench"})
	for i := 0; i < b.N; i++ {
		if _, err := m.ExtendedReport(nonce); err != nil {
			b.Fatal(err)
		}
	}
}

// Guests carry their init-data digest in MRCONFIGID / HOST_DATA, unless
// the fault leaves it unbound.
func TestInitDataBinding(t *testing.T) {
	var rd [64]byte
	for _, unbound := range []bool{false, true} {
		var fs []Fault
		if unbound {
			fs = []Fault{FaultInitDataUnbound}
		}
		q, err := NewTDXMachine(TDXOptions{Name: "i", Faults: fs}).Quote(rd)
		if err != nil {
			t.Fatal(err)
		}
		r, err := MustNewSNPMachine(SNPOptions{Name: "i", Faults: fs}).Report(rd)
		if err != nil {
			t.Fatal(err)
		}
		gotTDX, gotSNP := q[BodyOffsetMrConfigID:BodyOffsetMrConfigID+48], r[0xC0:0xE0]
		if bytes.Equal(gotTDX, DefaultMrConfigID) == unbound || bytes.Equal(gotSNP, DefaultHostData) == unbound {
			t.Errorf("unbound=%v: MRCONFIGID %x HOST_DATA %x", unbound, gotTDX, gotSNP)
		}
	}
}
