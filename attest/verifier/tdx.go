package verifier

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/cctest/cctest/api/teename"

	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/trust"
	tdxabi "github.com/google/go-tdx-guest/abi"
	"github.com/google/go-tdx-guest/pcs"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	tdxvalidate "github.com/google/go-tdx-guest/validate"
	tdxverify "github.com/google/go-tdx-guest/verify"
)

// TD attribute bits checked here because go-tdx-guest v0.3.1's validate
// does not reject a debug TD by default.
const (
	tdAttrDebug      = uint64(1) << 0
	tdAttrMigratable = uint64(1) << 29
)

// Quote v4 layout: header || TD quote body are signed; the signed-data size
// field follows, then signature (64) || attestation key (64) || certification data.
const (
	tdxSignedMessageEnd = 0x278
	tdxSignatureStart   = tdxSignedMessageEnd + 4
)

func (v *Verifier) verifyTDX(vd *Verdict, ev Evidence, p *policy.Policy, expected []byte) {
	parsed, err := safely("TDX quote", func() (any, error) { return tdxabi.QuoteToProto(ev.Raw) })
	if err == nil && len(ev.Raw) < tdxSignatureStart+64 {
		err = fmt.Errorf("quote is %d bytes, too short for a quote v4", len(ev.Raw))
	}
	if err != nil {
		vd.add(Check{Name: "parse", Expected: "TDX quote v4", Detail: err.Error()})
		return
	}
	q, ok := parsed.(*pb.QuoteV4)
	if !ok {
		vd.add(Check{Name: "parse", Expected: "TDX quote v4", Detail: fmt.Sprintf("unsupported quote type %T", parsed)})
		return
	}
	vd.add(Check{Name: "parse", Expected: "TDX quote v4", Measured: fmt.Sprintf("TDX quote v4, %d bytes", len(ev.Raw)), Pass: true})
	body := q.GetTdQuoteBody()
	vd.Measurement = hex.EncodeToString(body.GetMrTd())
	for _, r := range body.GetRtmrs() {
		vd.RTMRs = append(vd.RTMRs, hex.EncodeToString(r))
	}
	vd.TCB = hex.EncodeToString(body.GetTeeTcbSvn())
	vd.ReportData = hex.EncodeToString(body.GetReportData())

	v.tdxVerify(vd, ev.Raw, q, p)

	vd.add(nonceCheck(body.GetReportData(), expected, p))
	matched := tdxMeasurementCheck(vd, body, p)
	attrs := binary.LittleEndian.Uint64(body.GetTdAttributes())
	vd.add(bitCheck("debug", attrs&tdAttrDebug != 0, "TD_ATTRIBUTES.DEBUG (bit 0)",
		"debug TD: TD_ATTRIBUTES.DEBUG is set, so the host can read and change the TD's memory and CPU state"))
	vd.add(bitCheck("migratable", attrs&tdAttrMigratable != 0, "TD_ATTRIBUTES.MIGRATABLE (bit 29)",
		"migratable TD: TD_ATTRIBUTES.MIGRATABLE is set, so the TD can be moved to a host this evidence does not describe"))
	vd.add(tdxTCBCheck(q, p.TDX))
	if len(p.TDX.MrSeam) > 0 {
		want := p.TDX.MrSeamBytes()
		c := Check{Name: "mrseam", Expected: hex.EncodeToString(want), Measured: hex.EncodeToString(body.GetMrSeam()),
			Pass: bytes.Equal(want, body.GetMrSeam())}
		if !c.Pass {
			c.Detail = "the TDX module measurement (MRSEAM) is not the one the policy pins"
		}
		vd.add(c)
	}
	vd.add(tdxLibraryValidate(q, p, matched, expected))
}

// tdxVerify runs go-tdx-guest verify, or on a cache hit checks only the
// quote signature with the attestation key the cached chain vouched for.
func (v *Verifier) tdxVerify(vd *Verdict, raw []byte, q *pb.QuoteV4, p *policy.Policy) {
	now := v.now()
	c := Check{Name: "verify", Expected: "quote signature, QE report, PCK chain to " + strings.Join(v.rootNames(p, teename.TDX), " or ")}
	if p.Collateral.Verify {
		c.Expected += ", PCS TCB info and QE identity"
	}
	if p.Collateral.CheckRevocations {
		c.Expected += ", CRLs"
	}
	signedSize := int(q.GetSignedDataSize())
	platform := raw[tdxSignatureStart+64 : tdxSignatureStart+signedSize]
	body := q.GetTdQuoteBody()
	key := cacheKey([]byte("tdx"), []byte(fmt.Sprint(p.TrustRoots, p.Collateral)), platform,
		collateralBodyFields(p, body))
	if e := v.cache.get(key, now); e != nil {
		vd.ChainCached = true
		vd.TrustRoot, vd.Simulated = e.trustRoot, e.simulated
		vd.FMSPC, vd.PPID = e.fmspc, e.ppid
		if q.GetHeader().GetTeeType() != tdxabi.TeeTDX {
			c.Detail = tdxabi.ErrTeeType.Error()
		} else if !verifyRawSig(e.attestKey, raw[:tdxSignedMessageEnd], raw[tdxSignatureStart:tdxSignatureStart+64]) {
			c.Detail = tdxverify.ErrHashVerificationFail.Error() + " (chain cached)"
		} else {
			c.Pass, c.Measured = true, "valid; chain to "+e.trustRoot+" (cached)"
		}
		vd.add(c)
		return
	}
	chain, err := quoteChain(q)
	if err != nil {
		c.Detail = err.Error()
		vd.add(c)
		return
	}
	if exts, err := pcs.PckCertificateExtensions(chain[0]); err == nil {
		vd.FMSPC, vd.PPID = exts.FMSPC, exts.PPID
	}
	name, simulated, pool := v.tdxRoots(p, chain[2])
	vd.TrustRoot, vd.Simulated = name, simulated
	if simulated && v.opts.TestRoots == nil {
		c.Detail = noTestRoots(p)
		vd.add(c)
		return
	}
	getter := v.opts.TDXGetter
	if simulated {
		getter = v.opts.TestRoots.TDXGetter
	}
	opts := &tdxverify.Options{
		TrustedRoots: pool, Now: tdxTimes(now),
		GetCollateral: p.Collateral.Verify, CheckRevocations: p.Collateral.CheckRevocations,
		Getter: getter,
	}
	if err := safeErr("go-tdx-guest verify", func() error { return tdxverify.TdxQuote(q, opts) }); err != nil {
		c.Detail = err.Error() + v.testRootHint(p, chain...)
		c.Measured = "chain presented: " + chain[2].Subject.String()
		vd.add(c)
		return
	}
	c.Pass, c.Measured = true, "valid; chain to "+name
	vd.add(c)
	nb, na := window(chain...)
	if p.Collateral.Verify && now.Add(v.opts.CollateralTTL).Before(na) {
		na = now.Add(v.opts.CollateralTTL)
	}
	ak := q.GetSignedData().GetEcdsaAttestationKey()
	v.cache.put(key, &chainEntry{notBefore: nb, notAfter: na, trustRoot: name, simulated: simulated,
		fmspc: vd.FMSPC, ppid: vd.PPID,
		attestKey: &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(ak[:32]), Y: new(big.Int).SetBytes(ak[32:])}})
}

// tdxTimes checks the chain and every piece of collateral at one instant.
func tdxTimes(t time.Time) *tdxverify.TimeSet {
	return &tdxverify.TimeSet{PckCertChain: t, TcbInfo: t, QeIdentity: t, PckCrl: t, RootCaCrl: t}
}

// collateralBodyFields are the body fields the PCS TCB checks read; with
// collateral on, a cached chain is only reused for quotes that agree on them.
func collateralBodyFields(p *policy.Policy, body *pb.TDQuoteBody) []byte {
	if !p.Collateral.Verify {
		return nil
	}
	return bytes.Join([][]byte{body.GetTeeTcbSvn(), body.GetMrSignerSeam(), body.GetSeamAttributes()}, nil)
}

func verifyRawSig(pub *ecdsa.PublicKey, msg, sig []byte) bool {
	d := sha256.Sum256(msg)
	return ecdsa.Verify(pub, d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}

// quoteChain parses PCK, intermediate and root from the quote's PEM chain.
func quoteChain(q *pb.QuoteV4) ([]*x509.Certificate, error) {
	rest := q.GetSignedData().GetCertificationData().GetQeReportCertificationData().GetPckCertificateChainData().GetPckCertChain()
	var out []*x509.Certificate
	for len(out) < 3 {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PCK certificate chain: %v", err)
		}
		out = append(out, c)
	}
	if len(out) != 3 {
		return nil, tdxverify.ErrPCKCertChainInvalid
	}
	return out, nil
}

// tdxRoots picks the root pool: the test root only when the policy names
// it and the quote presents it; otherwise Intel's (nil = go-tdx-guest's
// embedded Intel SGX Root CA).
func (v *Verifier) tdxRoots(p *policy.Policy, presented *x509.Certificate) (string, bool, *x509.CertPool) {
	test := v.opts.TestRoots
	useTest := p.UsesTestRoots() && (test.IsCA(presented) || !p.UsesVendorRoots())
	if useTest {
		return v.testRootName(teename.TDX), true, test.IntelPool()
	}
	return trust.IntelVendorRootName, false, nil
}

// testRootName is how verdicts name the injected test roots.
func (v *Verifier) testRootName(tee string) string {
	if t := v.opts.TestRoots; t != nil {
		if tee == teename.TDX && t.IntelName != "" {
			return t.IntelName
		}
		if tee == teename.SNP && t.AMDName != "" {
			return t.AMDName
		}
	}
	return "simulated roots"
}

// testRootHint explains a chain failure a person would otherwise misread:
// simulated evidence presented to a policy that trusts only vendor roots.
func (v *Verifier) testRootHint(p *policy.Policy, presented ...*x509.Certificate) string {
	if p.UsesTestRoots() || v.opts.TestRoots == nil {
		return ""
	}
	for _, c := range presented {
		if v.opts.TestRoots.Issued(c) {
			return "; the evidence chains to the cctest TEST root (simulated hardware) and the policy trusts only vendor roots (trustRoots: [vendor])"
		}
	}
	return ""
}

func (v *Verifier) rootNames(p *policy.Policy, tee string) []string {
	var out []string
	if p.UsesTestRoots() {
		out = append(out, v.testRootName(tee))
	}
	if p.UsesVendorRoots() {
		out = append(out, map[string]string{teename.TDX: trust.IntelVendorRootName, teename.SNP: trust.AMDVendorRootName}[tee])
	}
	return out
}

func bitCheck(name string, set bool, field, failDetail string) Check {
	c := Check{Name: name, Expected: "off (" + field + " clear)", Measured: map[bool]string{true: "on", false: "off"}[set], Pass: !set}
	if set {
		c.Detail = failDetail
	}
	return c
}

func tdxMeasurementCheck(vd *Verdict, body *pb.TDQuoteBody, p *policy.Policy) *policy.TDXMeasurement {
	c := Check{Name: "measurement", Measured: "mrtd " + hex.EncodeToString(body.GetMrTd())}
	var names []string
	var matched *policy.TDXMeasurement
	for i := range p.TDX.AllowedMeasurements {
		m := &p.TDX.AllowedMeasurements[i]
		if m.Placeholder {
			continue
		}
		names = append(names, m.Name)
		if matched == nil && tdxMatches(m, body) {
			matched = m
		}
	}
	c.Expected = "one of [" + strings.Join(names, ", ") + "]"
	if matched != nil {
		c.Pass, c.Measured = true, c.Measured+" = "+matched.Name
		vd.MatchedImage = matched.Name
	} else {
		c.Detail = fmt.Sprintf("MRTD %s (with its RTMRs) matches no allowed measurement %v%s",
			hex.EncodeToString(body.GetMrTd()), names, placeholderHint(p, teename.TDX))
	}
	vd.add(c)
	return matched
}

func tdxMatches(m *policy.TDXMeasurement, body *pb.TDQuoteBody) bool {
	if !bytes.Equal(m.MRTDBytes(), body.GetMrTd()) {
		return false
	}
	for i, r := range m.RTMRBytes() {
		if r != nil && !bytes.Equal(r, body.GetRtmrs()[i]) {
			return false
		}
	}
	return true
}

func tdxTCBCheck(q *pb.QuoteV4, t *policy.TDX) Check {
	svn := q.GetTdQuoteBody().GetTeeTcbSvn()
	qe := binary.LittleEndian.Uint16(q.GetHeader().GetQeSvn())
	pce := binary.LittleEndian.Uint16(q.GetHeader().GetPceSvn())
	c := Check{Name: "tcb", Measured: fmt.Sprintf("TEE_TCB_SVN %x, QE SVN %d, PCE SVN %d", svn, qe, pce)}
	min := t.MinimumTeeTcbSvnBytes()
	if min == nil && t.MinimumQeSvn == 0 && t.MinimumPceSvn == 0 {
		c.Pass, c.Skipped, c.Expected, c.Detail = true, true, "(no minimum)", "the policy sets no TCB minimum"
		return c
	}
	c.Expected = fmt.Sprintf("TEE_TCB_SVN >= %x, QE SVN >= %d, PCE SVN >= %d", min, t.MinimumQeSvn, t.MinimumPceSvn)
	var low []string
	for i := range min {
		if svn[i] < min[i] {
			low = append(low, fmt.Sprintf("TEE_TCB_SVN[%d] %d < %d", i, svn[i], min[i]))
		}
	}
	if qe < t.MinimumQeSvn {
		low = append(low, fmt.Sprintf("QE SVN %d < %d", qe, t.MinimumQeSvn))
	}
	if pce < t.MinimumPceSvn {
		low = append(low, fmt.Sprintf("PCE SVN %d < %d", pce, t.MinimumPceSvn))
	}
	c.Pass = len(low) == 0
	if !c.Pass {
		c.Detail = "TCB below the policy minimum: " + strings.Join(low, ", ")
	}
	return c
}

// tdxLibraryValidate runs go-tdx-guest's validate with everything the
// policy pins, as the authoritative second opinion (it also checks the
// XFAM and TD_ATTRIBUTES fixed bits).
func tdxLibraryValidate(q *pb.QuoteV4, p *policy.Policy, matched *policy.TDXMeasurement, expected []byte) Check {
	o := &tdxvalidate.Options{
		HeaderOptions: tdxvalidate.HeaderOptions{MinimumQeSvn: p.TDX.MinimumQeSvn, MinimumPceSvn: p.TDX.MinimumPceSvn},
		TdQuoteBodyOptions: tdxvalidate.TdQuoteBodyOptions{
			MinimumTeeTcbSvn: p.TDX.MinimumTeeTcbSvnBytes(),
			MrSeam:           p.TDX.MrSeamBytes(),
		},
	}
	if matched != nil {
		o.TdQuoteBodyOptions.MrTd = matched.MRTDBytes()
		r := matched.RTMRBytes()
		if r[0] != nil || r[1] != nil || r[2] != nil || r[3] != nil {
			o.TdQuoteBodyOptions.Rtmrs = r[:]
		}
	}
	if expected != nil {
		if want, err := ReportData(expected); err == nil {
			o.TdQuoteBodyOptions.ReportData = want[:]
		}
	}
	c := Check{Name: "validate", Expected: "go-tdx-guest validate accepts the quote under the policy"}
	if err := safeErr("go-tdx-guest validate", func() error { return tdxvalidate.TdxQuote(q, o) }); err != nil {
		c.Detail = err.Error()
		c.Measured = "rejected"
		return c
	}
	c.Pass, c.Measured = true, "accepted"
	return c
}
