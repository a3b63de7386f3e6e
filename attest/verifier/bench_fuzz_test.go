package verifier

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"testing"

	"github.com/cctest/cctest/api/teename"

	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/simulators/tee"
	tdxtestdata "github.com/google/go-tdx-guest/testing/testdata"
)

func benchVerify(b *testing.B, tdx, cached bool) {
	var p *policy.Policy
	var evs []Evidence
	var rds [][64]byte
	tm := tee.NewTDXMachine(tee.TDXOptions{Name: "bench"})
	sm := tee.MustNewSNPMachine(tee.SNPOptions{Name: "bench"})
	for i := 0; i < 32; i++ {
		rd := BindReportData([]byte{byte(i)}, "bench")
		rds = append(rds, rd)
		if tdx {
			evs = append(evs, tdxEvidence(b, tm, rd))
		} else {
			evs = append(evs, snpEvidence(b, sm, rd))
		}
	}
	// Signatures and chains only, as the libraries' own figures (collateral
	// fetching would measure the fake PCS/KDS).
	if tdx {
		p = offlinePolicy(b, "tdx-simulated.yaml")
	} else {
		p = offlinePolicy(b, "snp-simulated.yaml")
	}
	v := New(Options{DisableCache: !cached, TestRoots: tee.TestRoots()})
	if vd := v.Verify(evs[0], p, rds[0][:]); !vd.Pass {
		b.Fatal(vd.Reason)
	}
	b.ReportAllocs()
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		j := i % len(evs)
		if vd := v.Verify(evs[j], p, rds[j][:]); !vd.Pass {
			b.Fatal(vd.Reason)
		}
	}
	cpu.report()
}

// cpuMeter reports verifications per wall second and the process CPU time
// per verification (cpu-ns/op, GC included): on a shared machine wall time
// follows the load, so compare the CPU figures (and ratios within a run).
type cpuMeter struct {
	b     *testing.B
	start int64
	ok    bool
}

func startCPU(b *testing.B) cpuMeter {
	b.ResetTimer()
	t, ok := processCPU()
	return cpuMeter{b: b, start: t, ok: ok}
}

func (m cpuMeter) report() {
	m.b.StopTimer()
	m.b.ReportMetric(float64(m.b.N)/m.b.Elapsed().Seconds(), "verifications/s")
	if t, ok := processCPU(); ok && m.ok {
		m.b.ReportMetric(float64(t-m.start)/float64(m.b.N), "cpu-ns/op")
	}
}

// Verify+validate per second on one core (run with -cpu 1).
func BenchmarkVerifyTDXCached(b *testing.B)   { benchVerify(b, true, true) }
func BenchmarkVerifyTDXUncached(b *testing.B) { benchVerify(b, true, false) }
func BenchmarkVerifySNPCached(b *testing.B)   { benchVerify(b, false, true) }
func BenchmarkVerifySNPUncached(b *testing.B) { benchVerify(b, false, false) }

// Evidence parsers and verification never panic on hostile bytes and give
// consistent verdicts. (That mutated evidence fails is tested byte region by
// byte region in the rejection tests: fuzz workers mint their own keys, so a
// seed from another process is a different, valid quote.)
func fuzzVerify(f *testing.F, tdx bool) {
	rd := BindReportData([]byte("fuzz"), "fuzz")
	var good Evidence
	var p *policy.Policy
	if tdx {
		good = tdxEvidence(f, tee.NewTDXMachine(tee.TDXOptions{Name: "fuzz"}), rd)
		p = fixturePolicy(f, "tdx-simulated.yaml")
	} else {
		good = snpEvidence(f, tee.MustNewSNPMachine(tee.SNPOptions{Name: "fuzz"}), rd)
		p = fixturePolicy(f, "snp-simulated.yaml")
	}
	f.Add(good.Raw)
	f.Add(good.Raw[:len(good.Raw)/2])
	f.Add([]byte{4, 0, 2, 0, 0x81, 0, 0, 0})
	f.Add([]byte(`{"tee":"tdx","raw":"BAACAIEAAAA="}`))
	if tdx {
		// Quote v5 (both body types, and Intel's real sample): the layout
		// checks before go-tdx-guest's parser.
		for _, bt := range []uint16{tee.TDXBody10, tee.TDXBody15} {
			v5 := tdxEvidence(f, tee.NewTDXMachine(tee.TDXOptions{Name: "fuzz", QuoteVersion: 5, BodyType: bt}), rd)
			f.Add(v5.Raw)
			f.Add(v5.Raw[:0x36+0x250])
		}
		f.Add(tdxtestdata.RawQuoteV5)
		f.Add([]byte{5, 0, 2, 0, 0x81, 0, 0, 0})
	} else {
		vlek := snpEvidence(f, tee.MustNewSNPMachine(tee.SNPOptions{Name: "fuzz-vlek", VLEK: true}), rd)
		f.Add(vlek.Raw)
		f.Add(vlek.Raw[:snpReportSize+100])
	}
	v := New(Options{TestRoots: tee.TestRoots()})
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := ParseEvidence(data)
		if err != nil {
			return
		}
		vd := v.Verify(ev, p, rd[:])
		// A verdict is consistent: it passes exactly when every check passed.
		if vd.Pass != (len(vd.Failed()) == 0) || (!vd.Pass && vd.Reason == "") {
			t.Fatalf("inconsistent verdict: pass=%v failed=%v reason=%q", vd.Pass, vd.Failed(), vd.Reason)
		}
	})
}

func FuzzVerifyTDXQuote(f *testing.F)  { fuzzVerify(f, true) }
func FuzzVerifySNPReport(f *testing.F) { fuzzVerify(f, false) }

// FuzzSNPEvidenceParts: a report with whatever certificate table, VCEK and
// VLEK come with it (cctest attest verify --cert-table / --vcek / --vlek)
// gives a consistent verdict, never a panic, and never passes with parts
// that do not belong to the report.
func FuzzSNPEvidenceParts(f *testing.F) {
	rd := BindReportData([]byte("fuzz"), "fuzz")
	aws := tee.MustNewSNPMachine(tee.SNPOptions{Name: "fuzz-vlek", VLEK: true})
	chip := tee.MustNewSNPMachine(tee.SNPOptions{Name: "fuzz-vcek"})
	a, c := snpEvidence(f, aws, rd).Raw, snpEvidence(f, chip, rd).Raw
	vlek, _ := aws.VLEK()
	vcek, _ := chip.VCEK()
	f.Add(a[:snpReportSize], a[snpReportSize:], []byte(nil), []byte(nil))
	f.Add(a[:snpReportSize], []byte(nil), []byte(nil), vlek)
	f.Add(c[:snpReportSize], []byte(nil), vcek, []byte(nil))
	f.Add(c[:snpReportSize], a[snpReportSize:], []byte(nil), vlek)
	f.Add(a[:snpReportSize], c[snpReportSize:], vcek, vlek)
	f.Add(a[:snpReportSize], a[snpReportSize:snpReportSize+40], []byte(nil), vlek[:10])
	p := offlinePolicy(f, "snp-simulated.yaml")
	v := New(Options{TestRoots: tee.TestRoots(), DisableCache: true})
	f.Fuzz(func(t *testing.T, report, table, vcekDER, vlekDER []byte) {
		ev := Evidence{TEE: teename.SNP, Raw: report, CertTable: table, VCEK: vcekDER, VLEK: vlekDER}
		vd := v.Verify(ev, p, rd[:])
		if vd.Pass != (len(vd.Failed()) == 0) || (!vd.Pass && vd.Reason == "") {
			t.Fatalf("inconsistent verdict: pass=%v failed=%v reason=%q", vd.Pass, vd.Failed(), vd.Reason)
		}
		if vd.Pass && ((len(vcekDER) > 0 && vd.SigningKey != "VCEK") || (len(vlekDER) > 0 && vd.SigningKey != "VLEK")) {
			t.Fatalf("passed with a certificate of the other kind: signer %s", vd.SigningKey)
		}
	})
}

// The cryptographic floor the verify benchmarks are judged against (same
// run, same load): one ECDSA P-256 verification over a quote-sized message
// (TDX: the attestation key's signature over header || body), and one P-384
// verification over a report-sized message (SNP: the VCEK's signature).
func benchECDSA(b *testing.B, curve elliptic.Curve, hash func([]byte) []byte, msgLen int) {
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, msgLen)
	sig, err := ecdsa.SignASN1(rand.Reader, key, hash(msg))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		if !ecdsa.VerifyASN1(&key.PublicKey, hash(msg), sig) {
			b.Fatal("signature does not verify")
		}
	}
	cpu.report()
}

func BenchmarkECDSAP256(b *testing.B) {
	benchECDSA(b, elliptic.P256(), func(m []byte) []byte { d := sha256.Sum256(m); return d[:] }, tdxHeaderSize+tdxBodySize)
}

func BenchmarkECDSAP384(b *testing.B) {
	benchECDSA(b, elliptic.P384(), func(m []byte) []byte { d := sha512.Sum384(m); return d[:] }, 0x2A0)
}
