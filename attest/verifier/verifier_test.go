package verifier

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cctest/cctest/api/teename"

	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/trust"
	"github.com/cctest/cctest/fixtures"
	"github.com/cctest/cctest/simulators/tee"
	"github.com/google/go-sev-guest/kds"
	tdxtestdata "github.com/google/go-tdx-guest/testing/testdata"
)

func fixturePolicy(t testing.TB, name string) *policy.Policy {
	t.Helper()
	data, err := fixtures.Read("policies/" + name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Load(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

// withPolicy loads a fixture policy and edits its YAML first.
func editedPolicy(t testing.TB, name string, edit func(string) string) *policy.Policy {
	t.Helper()
	data, err := fixtures.Read("policies/" + name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Load([]byte(edit(string(data))))
	if err != nil {
		t.Fatalf("%s edited: %v", name, err)
	}
	return p
}

func withCollateral(doc string) string {
	if strings.Contains(doc, "\ncollateral:") {
		return doc
	}
	return strings.Replace(doc, "nonce: required\n", "nonce: required\ncollateral: {verify: true, checkRevocations: true}\n", 1)
}

// noCollateral drops the collateral block: checks that run offline.
func noCollateral(doc string) string {
	return regexp.MustCompile(`(?m)^collateral:\n(  .*\n)+`).ReplaceAllString(doc, "")
}

func offlinePolicy(t testing.TB, name string) *policy.Policy {
	return editedPolicy(t, name, noCollateral)
}

func newTestVerifier(pcs *tee.PCS, k *tee.KDS) *Verifier {
	if pcs == nil {
		pcs = tee.NewPCS()
	}
	if k == nil {
		k = tee.NewKDS()
	}
	roots := tee.TestRoots()
	roots.TDXGetter, roots.SNPGetter = tee.TDXGetter{Handler: pcs}, tee.SNPGetter{Handler: k}
	return New(Options{TestRoots: roots, TDXGetter: noNetwork{}, SNPGetter: noNetworkSNP{}})
}

// noNetwork answers vendor collateral fetches at once: without it a vendor
// policy with collateral waits for the library's two-minute retry on Intel PCS.
type noNetwork struct{}

func (noNetwork) Get(url string) (map[string][]string, []byte, error) {
	return nil, nil, fmt.Errorf("tests do not reach %s", url)
}

type noNetworkSNP struct{}

func (noNetworkSNP) Get(url string) ([]byte, error) {
	return nil, fmt.Errorf("tests do not reach %s", url)
}

// A policy that trusts the simulated roots fails, saying why, when the
// caller handed the verifier no test roots: the library never finds them
// by itself.
func TestSimulatedRootsMustBeInjected(t *testing.T) {
	tdx := tdxEvidence(t, tee.NewTDXMachine(tee.TDXOptions{Name: "no-roots"}), testNonce)
	requireFail(t, New(Options{}).Verify(tdx, fixturePolicy(t, "tdx-simulated.yaml"), testNonce[:]), "verify", "was given none")
	snp := snpEvidence(t, tee.MustNewSNPMachine(tee.SNPOptions{Name: "no-roots"}), testNonce)
	requireFail(t, New(Options{}).Verify(snp, fixturePolicy(t, "snp-simulated.yaml"), testNonce[:]), "verify", "was given none")
}

var testNonce = BindReportData([]byte("nonce-1"), "test")

func tdxEvidence(t testing.TB, m *tee.TDXMachine, rd [64]byte) Evidence {
	t.Helper()
	raw, err := m.Quote(rd)
	if err != nil {
		t.Fatal(err)
	}
	return Evidence{TEE: teename.TDX, Raw: raw, Nonce: rd[:], Source: "simulated:" + m.Name()}
}

func snpEvidence(t testing.TB, m *tee.SNPMachine, rd [64]byte) Evidence {
	t.Helper()
	raw, err := m.ExtendedReport(rd)
	if err != nil {
		t.Fatal(err)
	}
	return Evidence{TEE: teename.SNP, Raw: raw, Nonce: rd[:], Source: "simulated:" + m.Name()}
}

func requirePass(t *testing.T, v Verdict) {
	t.Helper()
	if !v.Pass {
		var buf bytes.Buffer
		_ = v.WriteTable(&buf)
		t.Fatalf("verdict failed: %s\n%s", v.Reason, buf.String())
	}
}

func requireFail(t *testing.T, v Verdict, check, reason string) {
	t.Helper()
	if v.Pass {
		t.Fatalf("verdict passed, want failure in %q", check)
	}
	if !strings.HasPrefix(v.Reason, check+": ") || !strings.Contains(v.Reason, reason) {
		t.Fatalf("reason = %q, want check %q containing %q", v.Reason, check, reason)
	}
}

func TestSimulatedTDXPasses(t *testing.T) {
	v := newTestVerifier(nil, nil)
	p := fixturePolicy(t, "tdx-simulated.yaml")
	ev := tdxEvidence(t, tee.NewTDXMachine(tee.TDXOptions{Name: "pass-tdx"}), testNonce)
	vd := v.Verify(ev, p, testNonce[:])
	requirePass(t, vd)
	if !vd.Simulated || vd.TrustRoot != tee.IntelTestRootName || vd.MatchedImage != "cctest-sim-td-v1" || vd.FMSPC != "50806f000000" || vd.PPID == "" {
		t.Errorf("identity fields: %+v", vd)
	}
	for _, c := range vd.Checks {
		if !c.Pass || (c.Expected == "" && !c.Skipped) || c.Measured == "" {
			t.Errorf("check %+v lacks expected/measured", c)
		}
	}
	// Collateral and revocation checks through the fake PCS.
	pc := editedPolicy(t, "tdx-simulated.yaml", withCollateral)
	requirePass(t, newTestVerifier(nil, nil).Verify(ev, pc, testNonce[:]))
	// The platform policy (both TEEs) accepts it too.
	requirePass(t, v.Verify(ev, fixturePolicy(t, "platform.yaml"), testNonce[:]))
}

func TestSimulatedSNPPasses(t *testing.T) {
	p := fixturePolicy(t, "snp-simulated.yaml")
	for _, line := range []string{tee.Milan, tee.Genoa} {
		for _, ver := range []uint32{2, 3, 5} {
			t.Run(fmt.Sprintf("%s-v%d", line, ver), func(t *testing.T) {
				m := tee.MustNewSNPMachine(tee.SNPOptions{Name: "pass-snp", ProductLine: line, ReportVersion: ver})
				ev := snpEvidence(t, m, testNonce)
				vd := newTestVerifier(nil, nil).Verify(ev, p, testNonce[:])
				requirePass(t, vd)
				if vd.ProductLine != line || vd.ReportVersion != ver || !vd.Simulated || vd.ChipID == "" {
					t.Errorf("identity: %+v", vd)
				}
				pc := editedPolicy(t, "snp-simulated.yaml", withCollateral)
				requirePass(t, newTestVerifier(nil, nil).Verify(ev, pc, testNonce[:]))
				requirePass(t, newTestVerifier(nil, nil).Verify(ev, fixturePolicy(t, "platform.yaml"), testNonce[:]))
			})
		}
	}
}

func TestSNPReportWithoutCertTable(t *testing.T) {
	m := tee.MustNewSNPMachine(tee.SNPOptions{Name: "bare", OmitCertTable: true})
	ev := snpEvidence(t, m, testNonce)
	if len(ev.Raw) != snpReportSize {
		t.Fatalf("bare report is %d bytes", len(ev.Raw))
	}
	p := fixturePolicy(t, "snp-simulated.yaml")
	// Offline without a VCEK (and no KDS to ask): a clear failure.
	both := editedPolicy(t, "snp-simulated.yaml", func(s string) string {
		return strings.Replace(noCollateral(s), "[simulated]", "[simulated, vendor]", 1)
	})
	noKDS := tee.TestRoots()
	noKDS.SNPGetter = nil
	requireFail(t, New(Options{TestRoots: noKDS}).Verify(ev, both, testNonce[:]), "verify", "carries no VCEK")
	// A simulated-only policy gets the VCEK from the in-process fake KDS.
	requirePass(t, New(Options{TestRoots: tee.TestRoots()}).Verify(ev, p, testNonce[:]))
	// With the VCEK supplied.
	vcek, _ := m.VCEK()
	ev2 := ev
	ev2.VCEK = vcek
	requirePass(t, New(Options{TestRoots: tee.TestRoots()}).Verify(ev2, p, testNonce[:]))
	// Fetched from the (fake) KDS.
	requirePass(t, newTestVerifier(nil, nil).Verify(ev, p, testNonce[:]))
}

type variant struct {
	name, check, reason string
	verify              func(t *testing.T) Verdict
}

func flip(raw []byte, off int) []byte {
	out := bytes.Clone(raw)
	out[off] ^= 0x40
	return out
}

func TestTDXRejections(t *testing.T) {
	p := offlinePolicy(t, "tdx-simulated.yaml")
	pc := editedPolicy(t, "tdx-simulated.yaml", withCollateral)
	good := tdxEvidence(t, tee.NewTDXMachine(tee.TDXOptions{Name: "good"}), testNonce)
	raw := good.Raw
	signedSize := int(binary.LittleEndian.Uint32(raw[0x278:]))
	chainStart := bytes.Index(raw, []byte("-----BEGIN CERTIFICATE-----"))
	authStart := tee.QuoteOffsetQEReport + 0x180 + 0x40
	withFault := func(f tee.Fault) Evidence {
		return tdxEvidence(t, tee.NewTDXMachine(tee.TDXOptions{Name: "fault-" + string(f), Faults: []tee.Fault{f}}), testNonce)
	}
	run := func(ev Evidence, pol *policy.Policy, pcs *tee.PCS) func(t *testing.T) Verdict {
		return func(t *testing.T) Verdict { return newTestVerifier(pcs, nil).Verify(ev, pol, testNonce[:]) }
	}
	flipped := func(off int) func(t *testing.T) Verdict {
		ev := good
		ev.Raw = flip(raw, off)
		return run(ev, p, nil)
	}
	variants := []variant{
		{"flip header QE vendor ID", "verify", "unable to verify message digest", flipped(12)},
		{"flip header user data", "verify", "unable to verify message digest", flipped(40)},
		{"flip TEE_TCB_SVN", "verify", "unable to verify message digest", flipped(tee.BodyOffsetTeeTcbSvn + 3)},
		{"flip MRTD", "verify", "unable to verify message digest", flipped(tee.BodyOffsetMRTD)},
		{"flip RTMR0", "verify", "unable to verify message digest", flipped(tee.BodyOffsetRTMR0 + 5)},
		{"flip TD attributes", "verify", "unable to verify message digest", flipped(tee.BodyOffsetTdAttributes + 1)},
		{"flip REPORT_DATA", "verify", "unable to verify message digest", flipped(tee.BodyOffsetReportData)},
		{"flip quote signature", "verify", "unable to verify message digest", flipped(tee.QuoteOffsetSignature + 10)},
		{"flip attestation key", "verify", "", flipped(tee.QuoteOffsetSignature + 0x40 + 7)},
		{"flip QE report", "verify", "QE report's signature verification", flipped(tee.QuoteOffsetQEReport + 0x40)},
		{"flip QE report data", "verify", "QE report's signature verification", flipped(tee.QuoteOffsetQEReport + 0x140)},
		{"flip QE report signature", "verify", "QE report's signature verification", flipped(tee.QuoteOffsetQEReport + 0x180 + 3)},
		{"flip QE auth data", "verify", "QE Report Data does not match", flipped(authStart + 2 + 4)},
		{"flip PCK certificate", "verify", "", flipped(chainStart + 400)},
		{"truncated quote", "parse", "", func(t *testing.T) Verdict {
			ev := good
			ev.Raw = raw[:0x278+4+signedSize-100]
			return newTestVerifier(nil, nil).Verify(ev, p, testNonce[:])
		}},
		{"wrong nonce", "nonce", "does not match", func(t *testing.T) Verdict {
			other := BindReportData([]byte("nonce-2"), "test")
			return newTestVerifier(nil, nil).Verify(good, p, other[:])
		}},
		{"no nonce given", "nonce", "freshness cannot be checked", func(t *testing.T) Verdict {
			return newTestVerifier(nil, nil).Verify(good, p, nil)
		}},
		{"replayed evidence", "nonce", "does not match", func(t *testing.T) Verdict {
			m := tee.NewTDXMachine(tee.TDXOptions{Name: "replay", Faults: []tee.Fault{tee.FaultReplay}})
			_ = tdxEvidence(t, m, BindReportData([]byte("old"), "test"))
			return newTestVerifier(nil, nil).Verify(tdxEvidence(t, m, testNonce), p, testNonce[:])
		}},
		{"unexpected measurement", "measurement", "matches no allowed measurement", run(withFault(tee.FaultWrongMeasurement), p, nil)},
		{"unexpected RTMR", "measurement", "matches no allowed measurement", run(tdxEvidence(t, tee.NewTDXMachine(tee.TDXOptions{Name: "rtmr",
			RTMR: [4][]byte{nil, nil, bytes.Repeat([]byte{9}, 48), nil}}), testNonce), p, nil)},
		{"debug TD", "debug", "TD_ATTRIBUTES.DEBUG is set", run(withFault(tee.FaultDebug), p, nil)},
		{"migratable TD", "migratable", "MIGRATABLE is set", run(withFault(tee.FaultMigratable), p, nil)},
		{"TCB below minimum", "tcb", "TEE_TCB_SVN[0] 2 < 3", run(withFault(tee.FaultOldTCB), p, nil)},
		{"TCB out of date (PCS)", "tcb-status", "platform OutOfDate (INTEL-SA-00000)", run(withFault(tee.FaultOldTCB), pc, nil)},
		{"untrusted root", "verify", "certificate signed by unknown authority", run(withFault(tee.FaultUntrustedRoot), p, nil)},
		{"forged intermediate", "verify", "unable to validate Intermediate CA certificate", run(withFault(tee.FaultForgedChain), p, nil)},
		{"simulated evidence vs vendor roots", "verify", "chains to the cctest TEST root",
			run(good, editedPolicy(t, "tdx-simulated.yaml", func(s string) string { return strings.Replace(noCollateral(s), "[simulated]", "[vendor]", 1) }), nil)},
		{"expired PCK", "verify", "expired", run(withFault(tee.FaultExpiredCert), p, nil)},
		{"revoked PCK (collateral on)", "verify", "PCK Leaf certificate in PCK certificate chain was revoked", run(withFault(tee.FaultRevoked), pc, nil)},
		{"revoked PCK platform CA (collateral on)", "verify", "intermediate certificate in PCK certificate chain was revoked", run(good, pc, &tee.PCS{RevokePlatformCA: true})},
		{"expired collateral", "collateral-fresh", "stale collateral: TCB info (FMSPC", run(good, pc, &tee.PCS{Expired: true})},
		{"TEE not allowed", "tee-allowed", "does not allow \"tdx\"", run(good, fixturePolicy(t, "snp-simulated.yaml"), nil)},
		{"placeholder-only hardware policy", "verify", "", run(good, fixturePolicy(t, "tdx-hardware.yaml"), nil)},
	}
	runVariants(t, variants)
	// The hardware policy also fails the measurement check, naming the placeholders.
	vd := newTestVerifier(nil, nil).Verify(good, fixturePolicy(t, "tdx-hardware.yaml"), testNonce[:])
	if c, _ := vd.Check("measurement"); c.Pass || !strings.Contains(c.Detail, "placeholder") {
		t.Errorf("hardware policy measurement check = %+v", c)
	}
}

func runVariants(t *testing.T, variants []variant) {
	t.Helper()
	if len(variants) < 15 {
		t.Fatalf("only %d variants", len(variants))
	}
	for _, c := range variants {
		t.Run(c.name, func(t *testing.T) {
			vd := c.verify(t)
			requireFail(t, vd, c.check, c.reason)
			t.Log(vd.Reason)
		})
	}
}

func TestSNPRejections(t *testing.T) {
	p := offlinePolicy(t, "snp-simulated.yaml")
	pc := editedPolicy(t, "snp-simulated.yaml", withCollateral)
	gm := tee.MustNewSNPMachine(tee.SNPOptions{Name: "good-snp"})
	good := snpEvidence(t, gm, testNonce)
	withFault := func(f tee.Fault) Evidence {
		return snpEvidence(t, tee.MustNewSNPMachine(tee.SNPOptions{Name: "fault-" + string(f), Faults: []tee.Fault{f}}), testNonce)
	}
	run := func(ev Evidence, pol *policy.Policy, k *tee.KDS) func(t *testing.T) Verdict {
		return func(t *testing.T) Verdict { return newTestVerifier(nil, k).Verify(ev, pol, testNonce[:]) }
	}
	flipped := func(off int) func(t *testing.T) Verdict {
		ev := good
		ev.Raw = flip(good.Raw, off)
		return run(ev, p, nil)
	}
	const sigErr = "report signature verification error"
	variants := []variant{
		{"flip GUEST_SVN", "verify", sigErr, flipped(0x04)},
		{"flip FAMILY_ID", "verify", sigErr, flipped(0x10)},
		{"flip IMAGE_ID", "verify", sigErr, flipped(0x20)},
		{"flip CURRENT_TCB", "verify", sigErr, flipped(0x38)},
		{"flip REPORT_DATA", "verify", sigErr, flipped(tee.ReportOffsetReportData + 1)},
		{"flip MEASUREMENT", "verify", sigErr, flipped(tee.ReportOffsetMeasurement + 2)},
		{"flip HOST_DATA", "verify", sigErr, flipped(0xC0)},
		{"flip REPORT_ID", "verify", sigErr, flipped(0x140)},
		{"flip CHIP_ID", "verify", sigErr, flipped(0x1A0)},
		{"flip signature R", "verify", sigErr, flipped(tee.ReportOffsetSignature + 1)},
		{"flip signature S", "verify", sigErr, flipped(tee.ReportOffsetSignature + 0x48 + 1)},
		{"flip VCEK in cert table", "verify", "", flipped(len(good.Raw) - 40)},
		{"wrong nonce", "nonce", "does not match", func(t *testing.T) Verdict {
			other := BindReportData([]byte("nonce-2"), "test")
			return newTestVerifier(nil, nil).Verify(good, p, other[:])
		}},
		{"replayed evidence", "nonce", "does not match", func(t *testing.T) Verdict {
			m := tee.MustNewSNPMachine(tee.SNPOptions{Name: "replay", Faults: []tee.Fault{tee.FaultReplay}})
			_ = snpEvidence(t, m, BindReportData([]byte("old"), "test"))
			return newTestVerifier(nil, nil).Verify(snpEvidence(t, m, testNonce), p, testNonce[:])
		}},
		{"unexpected measurement", "measurement", "matches no allowed measurement", run(withFault(tee.FaultWrongMeasurement), p, nil)},
		{"debug policy", "debug", "the guest policy allows DEBUG", run(withFault(tee.FaultDebug), p, nil)},
		{"migration agent", "migratable", "migration agent", run(withFault(tee.FaultMigratable), p, nil)},
		{"TCB below minimum (Milan)", "tcb", "below the policy minimum", run(withFault(tee.FaultOldTCB), p, nil)},
		{"TCB below minimum (Genoa)", "tcb", "below the policy minimum", run(snpEvidence(t, tee.MustNewSNPMachine(tee.SNPOptions{Name: "old-genoa",
			ProductLine: tee.Genoa, Faults: []tee.Fault{tee.FaultOldTCB}}), testNonce), p, nil)},
		{"VMPL 1", "vmpl", "report VMPL 1 is not 0", run(withFault(tee.FaultVMPL), p, nil)},
		{"untrusted root", "verify", "could not be verified by any trusted roots", run(withFault(tee.FaultUntrustedRoot), p, nil)},
		{"forged chain in certificate table", "verify", "could not be verified by any trusted roots", run(withFault(tee.FaultForgedChain), p, nil)},
		{"simulated evidence vs vendor roots", "verify", "chains to the cctest TEST root",
			run(good, editedPolicy(t, "snp-simulated.yaml", func(s string) string { return strings.Replace(noCollateral(s), "[simulated]", "[vendor]", 1) }), nil)},
		{"expired VCEK", "verify", "expired", run(withFault(tee.FaultExpiredCert), p, nil)},
		{"revoked ASK (collateral on)", "verify", "ASK was revoked", run(good, pc, &tee.KDS{RevokeASK: true})},
		{"VCEK of another chip", "verify", sigErr, func(t *testing.T) Verdict {
			other := tee.MustNewSNPMachine(tee.SNPOptions{Name: "other-chip", OmitCertTable: true})
			vcek, _ := other.VCEK()
			ev := snpEvidence(t, other, testNonce)
			ev.VCEK = nil
			bare := good.Raw[:snpReportSize]
			ev.Raw = bare
			ev.VCEK = vcek
			return New(Options{TestRoots: tee.TestRoots()}).Verify(ev, p, testNonce[:])
		}},
		{"product line not allowed", "product-line", "\"Genoa\" is not allowed", run(snpEvidence(t, tee.MustNewSNPMachine(tee.SNPOptions{Name: "genoa", ProductLine: tee.Genoa}), testNonce),
			editedPolicy(t, "snp-simulated.yaml", func(s string) string { return strings.Replace(noCollateral(s), "[Milan, Genoa]", "[Milan]", 1) }), nil)},
		{"SMT forbidden", "smt", "allows SMT", run(good, editedPolicy(t, "snp-simulated.yaml", func(s string) string {
			return strings.Replace(noCollateral(s), "allowSMT: true", "allowSMT: false", 1)
		}), nil)},
		{"TEE not allowed", "tee-allowed", "does not allow \"sev-snp\"", run(good, fixturePolicy(t, "tdx-simulated.yaml"), nil)},
		{"truncated report", "parse", "", func(t *testing.T) Verdict {
			ev := good
			ev.Raw = good.Raw[:1000]
			return newTestVerifier(nil, nil).Verify(ev, p, testNonce[:])
		}},
	}
	runVariants(t, variants)
}

// The chain cache must not weaken anything: a cached chain still fails a
// report whose signature or signed content is wrong.
func TestChainCacheStillChecksTheReportSignature(t *testing.T) {
	v := newTestVerifier(nil, nil)
	tp := fixturePolicy(t, "tdx-simulated.yaml") // collateral on: cached within the TTL
	tm := tee.NewTDXMachine(tee.TDXOptions{Name: "cache-tdx"})
	sp := fixturePolicy(t, "snp-simulated.yaml")
	sm := tee.MustNewSNPMachine(tee.SNPOptions{Name: "cache-snp"})
	for i := 0; i < 3; i++ {
		rd := BindReportData([]byte{byte(i)}, "cache")
		a := v.Verify(tdxEvidence(t, tm, rd), tp, rd[:])
		b := v.Verify(snpEvidence(t, sm, rd), sp, rd[:])
		requirePass(t, a)
		requirePass(t, b)
		if (i > 0) != a.ChainCached || (i > 0) != b.ChainCached {
			t.Fatalf("round %d: cached = %v / %v", i, a.ChainCached, b.ChainCached)
		}
	}
	rd := BindReportData([]byte("x"), "cache")
	tq := tdxEvidence(t, tm, rd)
	for _, off := range []int{tee.BodyOffsetMRTD, tee.BodyOffsetReportData + 3, tee.QuoteOffsetSignature + 1} {
		ev := tq
		ev.Raw = flip(tq.Raw, off)
		vd := v.Verify(ev, tp, rd[:])
		if !vd.ChainCached {
			t.Fatal("expected a cache hit")
		}
		requireFail(t, vd, "verify", "unable to verify message digest")
	}
	sr := snpEvidence(t, sm, rd)
	for _, off := range []int{tee.ReportOffsetMeasurement, tee.ReportOffsetReportData + 3, tee.ReportOffsetSignature + 1} {
		ev := sr
		ev.Raw = flip(sr.Raw, off)
		vd := v.Verify(ev, sp, rd[:])
		if !vd.ChainCached {
			t.Fatal("expected a cache hit")
		}
		requireFail(t, vd, "verify", "report signature verification error")
	}
	// A different policy (trust roots) never reuses another policy's entry.
	vendor := editedPolicy(t, "tdx-simulated.yaml", func(s string) string { return strings.Replace(noCollateral(s), "[simulated]", "[vendor]", 1) })
	requireFail(t, v.Verify(tq, vendor, rd[:]), "verify", "does not chain to Intel SGX Root CA")
	// Faults still show through the cache.
	dbg := tee.NewTDXMachine(tee.TDXOptions{Name: "cache-tdx", Faults: []tee.Fault{tee.FaultDebug}})
	requireFail(t, v.Verify(tdxEvidence(t, dbg, rd), tp, rd[:]), "debug", "DEBUG")
}

// Real production quote from go-tdx-guest's testdata against Intel's root.
func TestRealProductionTDXQuote(t *testing.T) {
	raw := tdxtestdata.RawQuote
	mrtd := fmt.Sprintf("%x", raw[0x30+0x88:0x30+0xB8])
	rd := raw[0x30+0x208 : 0x30+0x248]
	p, err := policy.Load([]byte(`apiVersion: cctest.dev/v1alpha1
kind: AttestationPolicy
name: real
tdx:
  allowedMeasurements:
  - {name: sample, mrtd: "` + mrtd + `"}
  minimumTeeTcbSvn: "03000400000000000000000000000000"
`))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2023, time.July, 1, 1, 0, 0, 0, time.UTC)
	v := New(Options{Now: func() time.Time { return at }})
	ev, err := ParseEvidence(raw)
	if err != nil || ev.TEE != teename.TDX {
		t.Fatalf("ParseEvidence: %v %q", err, ev.TEE)
	}
	vd := v.Verify(ev, p, rd)
	requirePass(t, vd)
	if vd.Simulated || vd.TrustRoot != trust.IntelVendorRootName || vd.FMSPC == "" {
		t.Errorf("identity: %+v", vd)
	}
	// Real evidence never passes a policy trusting only the test roots.
	sim := fixturePolicy(t, "tdx-simulated.yaml")
	withTest := New(Options{Now: func() time.Time { return at }, TestRoots: tee.TestRoots()})
	requireFail(t, withTest.Verify(ev, sim, rd), "verify", "unknown authority")
	// Outside the samples' validity the chain is expired.
	late := New(Options{Now: func() time.Time { return time.Date(2053, 1, 1, 0, 0, 0, 0, time.UTC) }})
	requireFail(t, late.Verify(ev, p, rd), "verify", "expired")
}

func TestVerdictAndEvidenceJSON(t *testing.T) {
	m := tee.MustNewSNPMachine(tee.SNPOptions{Name: "json"})
	ev := snpEvidence(t, m, testNonce)
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseEvidence(data)
	if err != nil || !bytes.Equal(back.Raw, ev.Raw) || back.TEE != ev.TEE {
		t.Fatalf("round trip: %v", err)
	}
	vd := newTestVerifier(nil, nil).Verify(back, fixturePolicy(t, "snp-simulated.yaml"), testNonce[:])
	requirePass(t, vd)
	out, err := json.Marshal(vd)
	if err != nil || !bytes.Contains(out, []byte(`"name":"measurement"`)) {
		t.Fatalf("verdict JSON: %v %s", err, out)
	}
	var table bytes.Buffer
	_ = vd.WriteTable(&table)
	if !strings.Contains(table.String(), "PASS") || !strings.Contains(table.String(), "measurement") {
		t.Errorf("table:\n%s", table.String())
	}
	if _, err := ParseEvidence([]byte("garbage")); err == nil {
		t.Error("garbage parsed as evidence")
	}
	if _, err := ParseEvidence([]byte(`{"tee":"sgx","raw":"AA=="}`)); err == nil {
		t.Error("unknown TEE accepted")
	}
}

func TestFixturePoliciesAllowTheSimulatorDefaults(t *testing.T) {
	def := tee.DefaultMeasurementsHex()
	for _, name := range []string{"tdx-simulated.yaml", "platform.yaml"} {
		m := fixturePolicy(t, name).TDX.AllowedMeasurements[0]
		if m.MRTD != def["mrtd"] || m.RTMR0 != def["rtmr0"] || m.RTMR3 != def["rtmr3"] {
			t.Errorf("%s: TDX allowlist differs from the simulator defaults", name)
		}
	}
	for _, name := range []string{"snp-simulated.yaml", "platform.yaml"} {
		if fixturePolicy(t, name).SNP.AllowedMeasurements[0].Measurement != def["snp"] {
			t.Errorf("%s: SNP allowlist differs from the simulator defaults", name)
		}
	}
	for _, name := range []string{"tdx-hardware.yaml", "snp-hardware.yaml"} {
		p := fixturePolicy(t, name)
		if p.UsesTestRoots() || !p.HasPlaceholderMeasurements() {
			t.Errorf("%s must trust vendor roots only and mark its placeholders", name)
		}
	}
	_ = kds.TCBParts{}
}

func TestBindReportData(t *testing.T) {
	a := BindReportData([]byte("n"), "pod:1")
	if a == BindReportData([]byte("n"), "pod:2") || a == BindReportData([]byte("m"), "pod:1") || a != BindReportData([]byte("n"), "pod:1") {
		t.Fatal("BindReportData must depend on nonce and context, deterministically")
	}
	if _, err := ReportData(make([]byte, 65)); err == nil {
		t.Fatal("65-byte REPORT_DATA accepted")
	}
}

func TestCollateralRecordAndReplay(t *testing.T) {
	dir := t.TempDir()
	p := editedPolicy(t, "tdx-simulated.yaml", withCollateral)
	ps := editedPolicy(t, "snp-simulated.yaml", withCollateral)
	ev := tdxEvidence(t, tee.NewTDXMachine(tee.TDXOptions{Name: "rec"}), testNonce)
	sev := snpEvidence(t, tee.MustNewSNPMachine(tee.SNPOptions{Name: "rec"}), testNonce)
	online := &CollateralDir{Dir: dir, TDX: tee.TDXGetter{Handler: tee.NewPCS()}, SNP: tee.SNPGetter{Handler: tee.NewKDS()}}
	// The test roots' collateral goes through the recording getters.
	through := func(d *CollateralDir) *trust.Roots {
		r := tee.TestRoots()
		r.TDXGetter, r.SNPGetter = d.TDXGetter(), d.SNPGetter()
		return r
	}
	v := New(Options{TestRoots: through(online), DisableCache: true})
	requirePass(t, v.Verify(ev, p, testNonce[:]))
	requirePass(t, v.Verify(sev, ps, testNonce[:]))
	offline := &CollateralDir{Dir: dir}
	v = New(Options{TestRoots: through(offline), DisableCache: true})
	requirePass(t, v.Verify(ev, p, testNonce[:]))
	requirePass(t, v.Verify(sev, ps, testNonce[:]))
	empty := &CollateralDir{Dir: t.TempDir()}
	v = New(Options{TestRoots: through(empty), DisableCache: true})
	requireFail(t, v.Verify(ev, p, testNonce[:]), "verify", "is not recorded in")
}

// One Verifier from many goroutines (run with -race): fresh library options
// per verification, a shared chain cache.
func TestConcurrentVerification(t *testing.T) {
	v := newTestVerifier(nil, nil)
	tp, sp := fixturePolicy(t, "tdx-simulated.yaml"), fixturePolicy(t, "snp-simulated.yaml")
	tm := tee.NewTDXMachine(tee.TDXOptions{Name: "conc"})
	sm := tee.MustNewSNPMachine(tee.SNPOptions{Name: "conc"})
	done := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func(g int) {
			for i := 0; i < 5; i++ {
				rd := BindReportData([]byte{byte(g), byte(i)}, "conc")
				q, err := tm.Quote(rd)
				if err != nil {
					done <- err
					return
				}
				r, err := sm.ExtendedReport(rd)
				if err != nil {
					done <- err
					return
				}
				for _, vd := range []Verdict{
					v.Verify(Evidence{TEE: teename.TDX, Raw: q}, tp, rd[:]),
					v.Verify(Evidence{TEE: teename.SNP, Raw: r}, sp, rd[:]),
				} {
					if !vd.Pass {
						done <- fmt.Errorf("goroutine %d: %s", g, vd.Reason)
						return
					}
				}
			}
			done <- nil
		}(g)
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func tdxV5(t testing.TB, name string, bodyType uint16, o tee.TDXOptions) Evidence {
	t.Helper()
	o.Name, o.QuoteVersion, o.BodyType = name, 5, bodyType
	return tdxEvidence(t, tee.NewTDXMachine(o), testNonce)
}

// appendTDX adds policy lines to the tdx section (the last in the fixtures).
func appendTDX(lines string) func(string) string {
	return func(s string) string { return noCollateral(s) + lines }
}

// Quote v5, both body types, take the same path as v4: verify (offline and
// with collateral), the chain cache, every field check.
func TestSimulatedTDXv5Passes(t *testing.T) {
	pc := fixturePolicy(t, "tdx-simulated.yaml")
	for _, bt := range []uint16{tee.TDXBody10, tee.TDXBody15} {
		ev := tdxV5(t, "v5-pass", bt, tee.TDXOptions{})
		v := newTestVerifier(nil, nil)
		vd := v.Verify(ev, pc, testNonce[:])
		requirePass(t, vd)
		parse, _ := vd.Check("parse")
		if vd.ReportVersion != 5 || !strings.Contains(parse.Measured, map[uint16]string{tee.TDXBody10: "TDX 1.0 body", tee.TDXBody15: "TDX 1.5 body"}[bt]) {
			t.Errorf("body type %d: version %d, parse %q", bt, vd.ReportVersion, parse.Measured)
		}
		if _, shown := vd.Check("mrservicetd"); shown != (bt == tee.TDXBody15) {
			t.Errorf("body type %d: MRSERVICETD shown = %v", bt, shown)
		}
		requirePass(t, v.Verify(ev, offlinePolicy(t, "tdx-simulated.yaml"), testNonce[:]))
		// Second quote from the machine: the cached chain, the quote signature still checked.
		again := v.Verify(ev, pc, testNonce[:])
		requirePass(t, again)
		bad := ev
		bad.Raw = flip(ev.Raw, tee.BodyOffsetMRTD+tee.V5BodyShift)
		if vd := v.Verify(bad, pc, testNonce[:]); !again.ChainCached || !vd.ChainCached {
			t.Fatal("expected cache hits")
		} else {
			requireFail(t, vd, "verify", "unable to verify message digest")
		}
	}
	pinned := editedPolicy(t, "tdx-simulated.yaml", appendTDX("  minimumTeeTcbSvn2: \"03000500000000000000000000000000\"\n  mrServiceTd: \""+strings.Repeat("00", 48)+"\"\n"))
	requirePass(t, newTestVerifier(nil, nil).Verify(tdxV5(t, "v5-pinned", tee.TDXBody15, tee.TDXOptions{}), pinned, testNonce[:]))
}

// Every v5-specific way to be wrong fails with its own check and reason.
func TestTDXv5Rejections(t *testing.T) {
	p := offlinePolicy(t, "tdx-simulated.yaml")
	good := tdxV5(t, "v5-good", tee.TDXBody15, tee.TDXOptions{})
	good10 := tdxV5(t, "v5-good10", tee.TDXBody10, tee.TDXOptions{})
	raw := good.Raw
	sig := tee.SignatureOffset(raw)
	run := func(ev Evidence, pol *policy.Policy) func(t *testing.T) Verdict {
		return func(t *testing.T) Verdict { return newTestVerifier(nil, nil).Verify(ev, pol, testNonce[:]) }
	}
	with := func(b []byte) Evidence { ev := good; ev.Raw = b; return ev }
	edited := func(edit func([]byte)) Evidence { b := bytes.Clone(raw); edit(b); return with(b) }
	flipped := func(off int) func(t *testing.T) Verdict { return run(with(flip(raw, off)), p) }
	svn2Floor := editedPolicy(t, "tdx-simulated.yaml", appendTDX("  minimumTeeTcbSvn2: \"04000000000000000000000000000000\"\n"))
	svcPin := editedPolicy(t, "tdx-simulated.yaml", appendTDX("  mrServiceTd: \""+strings.Repeat("00", 48)+"\"\n"))
	const digest = "unable to verify message digest"
	variants := []variant{
		{"flip body descriptor size", "parse", "declares a", flipped(tee.BodyOffsetTeeTcbSvn + 2)},
		{"flip MRTD", "verify", digest, flipped(tee.BodyOffsetMRTD + tee.V5BodyShift)},
		{"flip REPORT_DATA", "verify", digest, flipped(tee.BodyOffsetReportData + tee.V5BodyShift + 9)},
		{"flip TEE_TCB_SVN2", "verify", digest, flipped(tee.BodyOffsetTeeTcbSvn2 + tee.V5BodyShift + 1)},
		{"flip MRSERVICETD", "verify", digest, flipped(tee.BodyOffsetMrServiceTd + tee.V5BodyShift + 47)},
		{"flip quote signature", "verify", digest, flipped(sig + 3)},
		{"body type 1 (SGX enclave report)", "parse", "body type 1 is not a TD report", run(edited(func(b []byte) { b[0x30] = 1 }), p)},
		{"body type 2 with a TDX 1.5 body", "parse", "body type 2 declares a 648-byte body, want 584", run(edited(func(b []byte) { b[0x30] = 2 }), p)},
		{"body type 3 with a TDX 1.0 body", "parse", "body type 3 declares a 584-byte body, want 648", run(edited10(good10.Raw), p)},
		{"quote version 6", "parse", "TDX quote version 6 is not supported", run(edited(func(b []byte) { b[0] = 6 }), p)},
		{"truncated in the descriptor", "parse", "truncated in the body descriptor", run(with(raw[:0x33]), p)},
		{"truncated in the body", "parse", "truncated inside the TD quote body", run(with(raw[:0x200]), p)},
		{"truncated signed data", "parse", "truncated: its signed data", run(with(raw[:len(raw)-100]), p)},
		{"TEE_TCB_SVN2 below the floor", "tee-tcb-svn2", "TEE_TCB_SVN2[0] 3 < 4", run(good, svn2Floor)},
		{"TEE_TCB_SVN2 asked of a TDX 1.0 body", "tee-tcb-svn2", "carries none", run(good10, svn2Floor)},
		{"MRSERVICETD of another service TD", "mrservicetd", "not the one the policy pins",
			run(tdxV5(t, "v5-svc", tee.TDXBody15, tee.TDXOptions{MrServiceTd: bytes.Repeat([]byte{7}, 48)}), svcPin)},
		{"MRSERVICETD asked of a quote v4", "mrservicetd", "this TDX quote v4 carries none",
			run(tdxEvidence(t, tee.NewTDXMachine(tee.TDXOptions{Name: "v4-svc"}), testNonce), svcPin)},
		{"debug TD (v5)", "debug", "TD_ATTRIBUTES.DEBUG is set", run(tdxV5(t, "v5-debug", tee.TDXBody15, tee.TDXOptions{Debug: true}), p)},
		{"TCB below minimum (v5)", "tcb", "TEE_TCB_SVN[0] 2 < 3",
			run(tdxV5(t, "v5-old", tee.TDXBody15, tee.TDXOptions{Faults: []tee.Fault{tee.FaultOldTCB}, TeeTcbSvn2: []byte{9}}), p)},
	}
	runVariants(t, variants)
}

// edited10 relabels a TDX 1.0 body as type 3: the declared size is wrong.
func edited10(raw []byte) Evidence {
	b := bytes.Clone(raw)
	b[0x30] = 3
	return Evidence{TEE: teename.TDX, Raw: b}
}

// Real quote v5 (TDX 1.5 body) from go-tdx-guest's testdata, read from the
// module cache, verified against Intel's root and validated under a policy.
func TestRealTDXQuoteV5(t *testing.T) {
	raw := tdxtestdata.RawQuoteV5
	ev, err := ParseEvidence(raw)
	if err != nil || ev.TEE != teename.TDX {
		t.Fatalf("ParseEvidence: %v %q", err, ev.TEE)
	}
	body := raw[0x36:]
	mrtd := fmt.Sprintf("%x", body[0x88:0xB8])
	rd := body[0x208:0x248]
	doc := func(extra string) *policy.Policy {
		p, err := policy.Load([]byte("apiVersion: cctest.dev/v1alpha1\nkind: AttestationPolicy\nname: real-v5\ntdx:\n" +
			"  allowedMeasurements:\n  - {name: sample, mrtd: \"" + mrtd + "\"}\n" + extra))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	at := time.Date(2026, time.June, 1, 0, 0, 0, 0, time.UTC) // the sample's PCK certificate is valid from 2026-01-27
	v := New(Options{Now: func() time.Time { return at }})
	p := doc("  minimumTeeTcbSvn2: \"0d010400000000000000000000000000\"\n  mrServiceTd: \"" + strings.Repeat("00", 48) + "\"\n")
	vd := v.Verify(ev, p, rd)
	requirePass(t, vd)
	parse, _ := vd.Check("parse")
	if vd.Simulated || vd.TrustRoot != trust.IntelVendorRootName || vd.ReportVersion != 5 || !strings.Contains(parse.Measured, "TDX 1.5 body") {
		t.Errorf("identity: %+v", vd)
	}
	// One above the sample's TEE_TCB_SVN2 fails through its own check.
	requireFail(t, v.Verify(ev, doc("  minimumTeeTcbSvn2: \"0e000000000000000000000000000000\"\n"), rd), "tee-tcb-svn2", "TEE_TCB_SVN2[0] 13 < 14")
	requireFail(t, v.Verify(ev, doc("  mrServiceTd: \""+strings.Repeat("01", 48)+"\"\n"), rd), "mrservicetd", "not the one the policy pins")
	// A changed byte anywhere in what the signature covers is refused.
	for _, off := range []int{0x36 + 0x88, 0x36 + 0x248, 0x36 + 0x258, 0x31} {
		bad := ev
		bad.Raw = flip(raw, off)
		if vd := v.Verify(bad, p, rd); vd.Pass {
			t.Errorf("flipped byte 0x%x accepted", off)
		}
	}
}

// VLEK-signed reports (AWS) verify through go-sev-guest: VLEK -> ASVK ->
// ARK, with collateral (both CRLs) and through the chain cache.
func TestSimulatedSNPVLEKPasses(t *testing.T) {
	pc := fixturePolicy(t, "snp-simulated.yaml")
	for _, line := range []string{tee.Milan, tee.Genoa} {
		for _, ver := range []uint32{2, 3, 5} {
			m := tee.MustNewSNPMachine(tee.SNPOptions{Name: "aws", ProductLine: line, ReportVersion: ver, VLEK: true})
			v := newTestVerifier(nil, nil)
			vd := v.Verify(snpEvidence(t, m, testNonce), pc, testNonce[:])
			requirePass(t, vd)
			if vd.SigningKey != "VLEK" || vd.ChipID != "" || vd.ProductLine != line || !vd.Simulated {
				t.Errorf("%s v%d identity: %+v", line, ver, vd)
			}
			if c, _ := vd.Check("signing-key"); !strings.Contains(c.Measured, "CHIP_ID masked") {
				t.Errorf("signing-key check: %+v", c)
			}
			if again := v.Verify(snpEvidence(t, m, testNonce), pc, testNonce[:]); !again.Pass || !again.ChainCached {
				t.Errorf("%s v%d second report: pass %v cached %v", line, ver, again.Pass, again.ChainCached)
			}
		}
	}
	// A bare report with the VLEK supplied (cctest attest verify --vlek).
	m := tee.MustNewSNPMachine(tee.SNPOptions{Name: "aws-bare", VLEK: true, OmitCertTable: true})
	ev := snpEvidence(t, m, testNonce)
	ev.VLEK, _ = m.VLEK()
	requirePass(t, newTestVerifier(nil, nil).Verify(ev, pc, testNonce[:]))
	for _, l := range []string{"Milan", "Genoa", "Turin"} {
		if pc, ok := trust.VendorAMD(l); !ok || pc.Asvk == nil || pc.Asvk.Subject.CommonName != "SEV-VLEK-"+l {
			t.Errorf("vendor roots of %s carry no ASVK", l)
		}
	}
}

func TestSNPVLEKRejections(t *testing.T) {
	p := offlinePolicy(t, "snp-simulated.yaml")
	pc := editedPolicy(t, "snp-simulated.yaml", withCollateral)
	aws := tee.MustNewSNPMachine(tee.SNPOptions{Name: "aws", VLEK: true})
	good := snpEvidence(t, aws, testNonce)
	bare := good
	bare.Raw = good.Raw[:snpReportSize]
	vlek, _ := aws.VLEK()
	vcekMachine := tee.MustNewSNPMachine(tee.SNPOptions{Name: "chip"})
	vcekEv := snpEvidence(t, vcekMachine, testNonce)
	vcek, _ := vcekMachine.VCEK()
	otherVLEK, _ := tee.MustNewSNPMachine(tee.SNPOptions{Name: "aws-other", VLEK: true}).VLEK()
	run := func(ev Evidence, pol *policy.Policy, k *tee.KDS) func(t *testing.T) Verdict {
		return func(t *testing.T) Verdict { return newTestVerifier(nil, k).Verify(ev, pol, testNonce[:]) }
	}
	with := func(ev Evidence, edit func(*Evidence)) Evidence { edit(&ev); return ev }
	signerInfo := func(b byte) Evidence {
		return with(good, func(e *Evidence) { e.Raw = bytes.Clone(e.Raw); e.Raw[0x48] = b })
	}
	faulty := func(f tee.Fault) Evidence {
		return snpEvidence(t, tee.MustNewSNPMachine(tee.SNPOptions{Name: "aws-" + string(f), VLEK: true, Faults: []tee.Fault{f}}), testNonce)
	}
	const sigErr = "report signature verification error"
	variants := []variant{
		{"bare VLEK report, no VLEK", "signing-key", "no VLEK certificate came with it", run(bare, p, nil)},
		{"VLEK given for a VCEK-signed report", "signing-key", "a VLEK certificate was supplied, but the report's SIGNING_KEY is 0",
			run(with(vcekEv, func(e *Evidence) { e.VLEK = vlek }), p, nil)},
		{"VCEK given for a VLEK-signed report", "signing-key", "a VCEK certificate was supplied, but the report's SIGNING_KEY is 1",
			run(with(bare, func(e *Evidence) { e.VCEK = vcek }), p, nil)},
		{"VCEK report's table with a VLEK report", "signing-key", "carries a VCEK and no VLEK",
			run(with(bare, func(e *Evidence) { e.CertTable = vcekEv.Raw[snpReportSize:] }), p, nil)},
		{"VLEK report's table with a VCEK report", "signing-key", "carries a VLEK but no VCEK",
			run(with(vcekEv, func(e *Evidence) { e.Raw = vcekEv.Raw[:snpReportSize]; e.CertTable = good.Raw[snpReportSize:] }), p, nil)},
		{"one bit: SIGNING_KEY VLEK -> VCEK", "signing-key", "carries a VLEK but no VCEK", run(signerInfo(0x00), p, nil)},
		{"SIGNING_KEY 7 (none)", "signing-key", "not signed by a VCEK or VLEK", run(signerInfo(7<<2), p, nil)},
		{"SIGNING_KEY 3 (reserved)", "parse", "signing_key values 2-6 are reserved", run(signerInfo(3<<2), p, nil)},
		{"supplied VLEK differs from the table's", "parse", "the supplied VLEK differs from the one in the certificate table",
			run(with(good, func(e *Evidence) { e.VLEK = otherVLEK }), p, nil)},
		{"VLEK of another machine", "verify", sigErr, run(with(bare, func(e *Evidence) { e.VLEK = otherVLEK }), p, nil)},
		{"flip MEASUREMENT", "verify", sigErr, run(with(good, func(e *Evidence) { e.Raw = flip(e.Raw, tee.ReportOffsetMeasurement) }), p, nil)},
		{"flip CHIP_ID", "verify", sigErr, run(with(good, func(e *Evidence) { e.Raw = flip(e.Raw, 0x1A0) }), p, nil)},
		{"forged ARK/ASVK", "verify", "VLEK could not be verified by any trusted roots", run(faulty(tee.FaultForgedChain), p, nil)},
		{"expired VLEK", "verify", "expired", run(faulty(tee.FaultExpiredCert), p, nil)},
		{"revoked ASVK (collateral on)", "verify", "ASVK was revoked", run(good, pc, &tee.KDS{RevokeASVK: true})},
		{"simulated VLEK vs vendor roots", "verify", "chains to the cctest TEST root",
			run(good, editedPolicy(t, "snp-simulated.yaml", func(s string) string { return strings.Replace(noCollateral(s), "[simulated]", "[vendor]", 1) }), nil)},
	}
	runVariants(t, variants)
	// go-sev-guest's own revocation check reads the ASK's CRL whatever key
	// signed: a revoked ASK fails VLEK reports too (stricter than needed).
	requireFail(t, newTestVerifier(nil, &tee.KDS{RevokeASK: true}).Verify(good, pc, testNonce[:]), "verify", "ASK was revoked")
}

// Provisional firmware (CURRENT_TCB newer than COMMITTED_TCB) is refused by
// default and accepted under snp.permitProvisionalFirmware; the reason is in
// the verdict either way. Committed newer than current is never accepted.
func TestSNPProvisionalFirmware(t *testing.T) {
	p := offlinePolicy(t, "snp-simulated.yaml")
	permit := editedPolicy(t, "snp-simulated.yaml", func(s string) string { return noCollateral(s) + "  permitProvisionalFirmware: true\n" })
	newer := tee.DefaultSNPTCB[tee.Milan]
	newer.SnpSpl++
	older := tee.DefaultSNPTCB[tee.Milan]
	older.UcodeSpl--
	prov := snpEvidence(t, tee.MustNewSNPMachine(tee.SNPOptions{Name: "prov", ProvisionalTCB: &newer}), testNonce)
	provVLEK := snpEvidence(t, tee.MustNewSNPMachine(tee.SNPOptions{Name: "prov-aws", ProvisionalTCB: &newer, VLEK: true}), testNonce)
	backwards := snpEvidence(t, tee.MustNewSNPMachine(tee.SNPOptions{Name: "backwards", ProvisionalTCB: &older}), testNonce)

	vd := newTestVerifier(nil, nil).Verify(prov, p, testNonce[:])
	requireFail(t, vd, "provisional-firmware", "the host runs provisional firmware: current bl=3 tee=0 snp=9 ucode=115, firmware 1.55 build 22 is newer than committed bl=3 tee=0 snp=8 ucode=115, firmware 1.55 build 21")
	if !strings.Contains(vd.Reason, "set snp.permitProvisionalFirmware") || len(vd.Notes) != 0 {
		t.Errorf("refusal: %q, notes %v", vd.Reason, vd.Notes)
	}
	for _, ev := range []Evidence{prov, provVLEK} {
		vd := newTestVerifier(nil, nil).Verify(ev, permit, testNonce[:])
		requirePass(t, vd)
		if len(vd.Notes) != 1 || !strings.Contains(vd.Notes[0], "accepted: the host runs provisional firmware") {
			t.Errorf("notes: %v", vd.Notes)
		}
		var table bytes.Buffer
		_ = vd.WriteTable(&table)
		if !strings.Contains(table.String(), "note: provisional-firmware: accepted") {
			t.Errorf("table lacks the note:\n%s", table.String())
		}
	}
	requireFail(t, newTestVerifier(nil, nil).Verify(backwards, permit, testNonce[:]), "provisional-firmware", "the committed firmware")
	// Committed firmware passes both policies, without a note.
	good := snpEvidence(t, tee.MustNewSNPMachine(tee.SNPOptions{Name: "committed"}), testNonce)
	for _, pol := range []*policy.Policy{p, permit} {
		if vd := newTestVerifier(nil, nil).Verify(good, pol, testNonce[:]); !vd.Pass || len(vd.Notes) != 0 {
			t.Errorf("committed firmware: pass %v notes %v (%s)", vd.Pass, vd.Notes, vd.Reason)
		}
	}
}

// The verdict's identity fields share one string: each slice is its own
// part's hex, for parts shorter and longer than the encode buffer.
func TestHexStrings(t *testing.T) {
	parts := [][]byte{bytes.Repeat([]byte{0xab}, 48), nil, {1, 2, 3}, bytes.Repeat([]byte{0x5c, 0xf0}, 100), make([]byte, 64)}
	got := hexStrings(parts...)
	if len(got) != len(parts) {
		t.Fatalf("%d strings for %d parts", len(got), len(parts))
	}
	for i, b := range parts {
		if got[i] != hex.EncodeToString(b) {
			t.Errorf("part %d: %q, want %q", i, got[i], hex.EncodeToString(b))
		}
	}
}
