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
	"strconv"
	"strings"
	"time"

	"github.com/cctest/cctest/api/teename"

	"github.com/cctest/cctest/attest/eventlog"
	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/trust"
	tdxabi "github.com/google/go-tdx-guest/abi"
	"github.com/google/go-tdx-guest/pcs"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	tdxvalidate "github.com/google/go-tdx-guest/validate"
	tdxverify "github.com/google/go-tdx-guest/verify"
	"google.golang.org/protobuf/proto"
)

// TD attribute bits checked here because go-tdx-guest v0.3.1's validate
// does not reject a debug TD by default.
const (
	tdAttrDebug      = uint64(1) << 0
	tdAttrMigratable = uint64(1) << 29
)

// tdxQuote is what the checks read from a quote v4 or v5, so both take one
// path: the common TD report fields as a v4 body, the TDX 1.5 fields apart.
type tdxQuote struct {
	proto      any // *pb.QuoteV4 or *pb.QuoteV5, for go-tdx-guest verify
	header     *pb.Header
	body       *pb.TDQuoteBody
	bodyType   int32 // v5 only: tdxBody10 or tdxBody15
	teeTcbSvn2 []byte
	mrService  []byte
	signedData *pb.Ecdsa256BitQuoteV4AuthData
	signedSize int
	// parseSigned's copy of the signed bytes and the signature over them:
	// a cache hit checks the signature over the very bytes the checks read.
	signed, sig []byte
	// The signature covers raw[:signedEnd] (header || body, v5: header ||
	// body descriptor || body); the signed-data size field follows, then
	// signature (64) || attestation key (64) || certification data.
	signedEnd int
	// The chain cache's key for this quote, and its entry on a hit.
	key    cacheKey
	cached *chainEntry
}

// Quote layout (Intel DCAP sgx_quote4_t / sgx_quote5_t).
const (
	tdxHeaderSize = 0x30
	tdxBodySize   = 0x248 // TD report body of v4 and of v5 type 2
	tdxBody15Size = 0x288 // + TEE_TCB_SVN2 (16) and MRSERVICETD (48)
	tdxBody10     = 2
	tdxBody15     = 3
)

func (q *tdxQuote) sigStart() int { return q.signedEnd + 4 }

func (q *tdxQuote) format() string {
	switch {
	case q.bodyType == tdxBody15:
		return "TDX quote v5 (TDX 1.5 body)"
	case q.bodyType == tdxBody10:
		return "TDX quote v5 (TDX 1.0 body)"
	}
	return "TDX quote v4"
}

// parseTDXQuote checks the layout first, so truncated or foreign input is
// named precisely, then lets go-tdx-guest parse it.
func parseTDXQuote(raw []byte) (*tdxQuote, error) {
	q, err := tdxLayout(raw)
	if err != nil {
		return nil, err
	}
	return q.parseLibrary(raw)
}

// tdxLayout checks the quote's layout and finds its signed parts.
func tdxLayout(raw []byte) (*tdxQuote, error) {
	if len(raw) < tdxHeaderSize {
		return nil, fmt.Errorf("quote is %d bytes, shorter than the %d-byte header", len(raw), tdxHeaderSize)
	}
	q := &tdxQuote{signedEnd: tdxHeaderSize + tdxBodySize}
	switch v := binary.LittleEndian.Uint16(raw); v {
	case 4:
	case 5:
		if len(raw) < tdxHeaderSize+6 {
			return nil, fmt.Errorf("quote v5 is %d bytes, truncated in the body descriptor", len(raw))
		}
		q.bodyType = int32(binary.LittleEndian.Uint16(raw[tdxHeaderSize:]))
		size := binary.LittleEndian.Uint32(raw[tdxHeaderSize+2:])
		want := map[int32]uint32{tdxBody10: tdxBodySize, tdxBody15: tdxBody15Size}[q.bodyType]
		if want == 0 {
			return nil, fmt.Errorf("quote v5 body type %d is not a TD report (want %d = TDX 1.0 or %d = TDX 1.5; 1 is an SGX enclave report)",
				q.bodyType, tdxBody10, tdxBody15)
		}
		if size != want {
			return nil, fmt.Errorf("quote v5 body type %d declares a %d-byte body, want %d", q.bodyType, size, want)
		}
		q.signedEnd = tdxHeaderSize + 6 + int(size)
	default:
		return nil, fmt.Errorf("TDX quote version %d is not supported (want 4 or 5)", v)
	}
	if len(raw) < q.sigStart() {
		return nil, fmt.Errorf("quote is %d bytes, truncated inside the TD quote body (needs at least %d)", len(raw), q.sigStart())
	}
	q.signedSize = int(binary.LittleEndian.Uint32(raw[q.signedEnd:]))
	if q.signedSize < 128 || len(raw)-q.sigStart() < q.signedSize {
		return nil, fmt.Errorf("quote is %d bytes, truncated: its signed data (%d bytes declared) would end at %d",
			len(raw), q.signedSize, q.sigStart()+q.signedSize)
	}
	return q, nil
}

// parseSigned reads the header, the TD report body and the signature at
// their fixed offsets (tdxLayout fixed the sizes), slicing one copy of
// them as go-tdx-guest's parser does; the certification data comes from
// a cached parse of byte-identical bytes (parseCached). A test holds the
// result equal to go-tdx-guest's parse of every quote version and body type.
func (q *tdxQuote) parseSigned(raw []byte) {
	d := bytes.Clone(raw[:q.sigStart()+64])
	q.signed = d[:q.signedEnd:q.signedEnd]
	next := func(n int) []byte {
		f := d[:n:n]
		d = d[n:]
		return f
	}
	h := &pb.Header{}
	h.Version = uint32(binary.LittleEndian.Uint16(next(2)))
	h.AttestationKeyType = uint32(binary.LittleEndian.Uint16(next(2)))
	h.TeeType = binary.LittleEndian.Uint32(next(4))
	h.PceSvn = next(2)
	h.QeSvn = next(2)
	h.QeVendorId = next(16)
	h.UserData = next(20)
	var size int32
	if q.bodyType != 0 {
		next(2)
		size = int32(binary.LittleEndian.Uint32(next(4)))
	}
	b := &pb.TDQuoteBody{}
	b.TeeTcbSvn = next(16)
	b.MrSeam = next(48)
	b.MrSignerSeam = next(48)
	b.SeamAttributes = next(8)
	b.TdAttributes = next(8)
	b.Xfam = next(8)
	b.MrTd = next(48)
	b.MrConfigId = next(48)
	b.MrOwner = next(48)
	b.MrOwnerConfig = next(48)
	b.Rtmrs = [][]byte{next(48), next(48), next(48), next(48)}
	b.ReportData = next(64)
	if q.bodyType == tdxBody15 {
		q.teeTcbSvn2, q.mrService = next(16), next(48)
	}
	next(4) // signed data size
	q.sig = next(64)
	q.header, q.body = h, b
	if q.bodyType == 0 {
		q.proto = &pb.QuoteV4{Header: h, TdQuoteBody: b, SignedDataSize: uint32(q.signedSize)}
		return
	}
	q.proto = &pb.QuoteV5{Header: h, SignedDataSize: int32(q.signedSize), TdQuoteBodyDescriptor: &pb.TDQuoteBodyDescriptor{
		TdQuoteBodyType: q.bodyType, TdQuoteBodySize: size,
		TdQuoteBodyV5: &pb.TDQuoteBodyV5{
			TeeTcbSvn: b.TeeTcbSvn, MrSeam: b.MrSeam, MrSignerSeam: b.MrSignerSeam, SeamAttributes: b.SeamAttributes,
			TdAttributes: b.TdAttributes, Xfam: b.Xfam, MrTd: b.MrTd, MrConfigId: b.MrConfigId, MrOwner: b.MrOwner,
			MrOwnerConfig: b.MrOwnerConfig, Rtmrs: b.Rtmrs, ReportData: b.ReportData,
			TeeTcbSvn2: q.teeTcbSvn2, MrServiceTd: q.mrService,
		},
	}}
}

// parseCached completes parseSigned with the signed data go-tdx-guest
// parsed from a quote whose attestation key and certification data are
// byte for byte these (the cache key covers them), and this quote's own
// signature; go-tdx-guest's structure checks then run on the result.
func (q *tdxQuote) parseCached(raw []byte, cached *pb.Ecdsa256BitQuoteV4AuthData) error {
	if q.sig == nil {
		q.parseSigned(raw)
	}
	q.signedData = &pb.Ecdsa256BitQuoteV4AuthData{Signature: q.sig,
		EcdsaAttestationKey: cached.GetEcdsaAttestationKey(), CertificationData: cached.GetCertificationData()}
	var extra []byte
	if end := q.sigStart() + q.signedSize; end < len(raw) {
		extra = bytes.Clone(raw[end:])
	}
	switch p := q.proto.(type) {
	case *pb.QuoteV4:
		p.SignedData, p.ExtraBytes = q.signedData, extra
	case *pb.QuoteV5:
		p.SignedData, p.ExtraBytes = q.signedData, extra
	}
	return safeErr("TDX quote", func() error { return tdxabi.CheckQuote(q.proto) })
}

// parseLibrary parses the whole quote with go-tdx-guest's parser.
func (q *tdxQuote) parseLibrary(raw []byte) (*tdxQuote, error) {
	parsed, err := safely("TDX quote", func() (any, error) { return tdxabi.QuoteToProto(raw) })
	if err != nil {
		return nil, err
	}
	q.proto = parsed
	switch p := parsed.(type) {
	case *pb.QuoteV4:
		q.header, q.body, q.signedData = p.GetHeader(), p.GetTdQuoteBody(), p.GetSignedData()
	case *pb.QuoteV5:
		b := p.GetTdQuoteBodyDescriptor().GetTdQuoteBodyV5()
		q.header, q.signedData = p.GetHeader(), p.GetSignedData()
		q.teeTcbSvn2, q.mrService = b.GetTeeTcbSvn2(), b.GetMrServiceTd()
		q.body = &pb.TDQuoteBody{
			TeeTcbSvn: b.GetTeeTcbSvn(), MrSeam: b.GetMrSeam(), MrSignerSeam: b.GetMrSignerSeam(),
			SeamAttributes: b.GetSeamAttributes(), TdAttributes: b.GetTdAttributes(), Xfam: b.GetXfam(),
			MrTd: b.GetMrTd(), MrConfigId: b.GetMrConfigId(), MrOwner: b.GetMrOwner(),
			MrOwnerConfig: b.GetMrOwnerConfig(), Rtmrs: b.GetRtmrs(), ReportData: b.GetReportData(),
		}
	default:
		return nil, fmt.Errorf("unsupported quote type %T", parsed)
	}
	return q, nil
}

// v4View presents the quote to go-tdx-guest's validate, which takes only
// quote v4: every field it checks (header SVNs, the TD report body) has the
// same size and meaning in v5. The v5-only fields are checked in this package.
func (q *tdxQuote) v4View() *pb.QuoteV4 {
	if v4, ok := q.proto.(*pb.QuoteV4); ok {
		return v4
	}
	h := proto.Clone(q.header).(*pb.Header)
	h.Version = 4
	return &pb.QuoteV4{Header: h, TdQuoteBody: q.body, SignedDataSize: uint32(q.signedSize), SignedData: q.signedData}
}

func (v *Verifier) verifyTDX(vd *Verdict, ev Evidence, p *policy.Policy, expected []byte) {
	now := v.now()
	q, err := v.parseTDX(ev.Raw, p, now)
	if err != nil {
		vd.add(Check{Name: "parse", Expected: "TDX quote v4 or v5", Detail: err.Error()})
		return
	}
	vd.add(Check{Name: "parse", Expected: "TDX quote v4 or v5", Measured: q.format() + ", " + strconv.Itoa(len(ev.Raw)) + " bytes", Pass: true})
	body := q.body
	vd.ReportVersion = q.header.GetVersion()
	// The identity fields in one string (the RTMRs are 4 of its slices).
	parts := [7][]byte{body.GetMrTd(), body.GetTeeTcbSvn(), body.GetReportData()}
	hx := hexStrings(parts[:3+copy(parts[3:], body.GetRtmrs())]...)
	vd.Measurement, vd.TCB, vd.ReportData, vd.RTMRs = hx[0], hx[1], hx[2], hx[3:]

	v.tdxVerify(vd, q, p, now)

	vd.add(nonceCheck(body.GetReportData(), vd.ReportData, expected, p))
	log := tdxEventLogCheck(vd, ev, body, p)
	tdxMeasurementCheck(vd, body, p, log)
	attrs := binary.LittleEndian.Uint64(body.GetTdAttributes())
	vd.add(bitCheck("debug", attrs&tdAttrDebug != 0, "off (TD_ATTRIBUTES.DEBUG (bit 0) clear)",
		"debug TD: TD_ATTRIBUTES.DEBUG is set, so the host can read and change the TD's memory and CPU state"))
	vd.add(bitCheck("migratable", attrs&tdAttrMigratable != 0, "off (TD_ATTRIBUTES.MIGRATABLE (bit 29) clear)",
		"migratable TD: TD_ATTRIBUTES.MIGRATABLE is set, so the TD can be moved to a host this evidence does not describe"))
	vd.add(tdxTCBCheck(q, vd.TCB, p.TDX))
	tdxPinChecks(vd, p.TDX, body.GetMrConfigId(), body.GetMrOwner(), body.GetMrOwnerConfig(), attrs)
	if len(p.TDX.MrSeam) > 0 {
		want := pin(p.TDX.MrSeam)
		c := Check{Name: "mrseam", Expected: pinHex(p.TDX.MrSeam), Measured: hex.EncodeToString(body.GetMrSeam()),
			Pass: bytes.Equal(want, body.GetMrSeam())}
		if !c.Pass {
			c.Detail = "the TDX module measurement (MRSEAM) is not the one the policy pins"
		}
		vd.add(c)
	}
	if c, ok := tdx15Check(q, "tee-tcb-svn2", "TEE_TCB_SVN2", q.teeTcbSvn2, pin(p.TDX.MinimumTeeTcbSvn2), true); ok {
		vd.add(c)
	}
	if c, ok := tdx15Check(q, "mrservicetd", "MRSERVICETD", q.mrService, pin(p.TDX.MrServiceTd), false); ok {
		vd.add(c)
	}
	vd.add(tdxLibraryValidate(q, p, expected))
}

// tdx15Check checks a TDX 1.5 body field against the policy: a per-byte
// floor, or an exact pin. It is recorded when the policy sets it (a quote
// without the field then fails) or the quote carries it (shown, skipped).
func tdx15Check(q *tdxQuote, name, field string, got, want []byte, floor bool) (Check, bool) {
	if want == nil && got == nil {
		return Check{}, false
	}
	c := Check{Name: name, Measured: hex.EncodeToString(got), Expected: hex.EncodeToString(want)}
	if floor {
		c.Expected = ">= " + c.Expected
	}
	switch {
	case want == nil:
		c.Pass, c.Skipped, c.Expected, c.Detail = true, true, "(not set)", "the policy does not constrain "+field
	case got == nil:
		c.Measured = "(absent)"
		c.Detail = fmt.Sprintf("the policy constrains %s, but this %s carries none (only quote v5 with a TDX 1.5 body does)", field, q.format())
	case floor:
		var low []string
		for i := range want {
			if got[i] < want[i] {
				low = append(low, fmt.Sprintf("%s[%d] %d < %d", field, i, got[i], want[i]))
			}
		}
		c.Pass = len(low) == 0
		if !c.Pass {
			c.Detail = "TCB below the policy minimum: " + strings.Join(low, ", ")
		}
	default:
		c.Pass = bytes.Equal(got, want)
		if !c.Pass {
			c.Detail = field + " is not the one the policy pins (the service TD bound to this TD differs)"
		}
	}
	return c, true
}

// parseTDX parses the quote, and finds its cached chain: on a hit the
// parts the cache key covers are not parsed again.
func (v *Verifier) parseTDX(raw []byte, p *policy.Policy, now time.Time) (*tdxQuote, error) {
	q, err := tdxLayout(raw)
	if err != nil || v.cache == nil {
		if err == nil {
			q, err = q.parseLibrary(raw)
		}
		return q, err
	}
	q.parseSigned(raw) // once: the key's body fields, and on a hit all but the signed data
	q.key = tdxCacheKey(raw, q, p)
	if q.cached = v.cache.get(q.key, now); q.cached != nil {
		if err := q.parseCached(raw, q.cached.signedData); err != nil {
			return nil, err
		}
		return q, nil
	}
	return q.parseLibrary(raw)
}

// tdxCacheKey covers everything the full verification read except the
// header, the body and the signature over them: the policy's roots and
// collateral settings, the attestation key and the certification data (QE
// report, its signature, QE authentication data, PCK chain), and with
// collateral on the body fields the TCB evaluation reads.
func tdxCacheKey(raw []byte, q *tdxQuote, p *policy.Policy) cacheKey {
	sig := q.sigStart()
	return newCacheKey("tdx", p, raw[sig+64:sig+q.signedSize], collateralBodyFields(p, q))
}

// tdxVerify runs go-tdx-guest verify, or on a cache hit checks only the
// quote signature with the attestation key the cached chain vouched for.
func (v *Verifier) tdxVerify(vd *Verdict, q *tdxQuote, p *policy.Policy, now time.Time) {
	var pcsInfo, crls string
	if p.Collateral.Verify {
		pcsInfo = ", PCS TCB info and QE identity"
	}
	if p.Collateral.CheckRevocations {
		crls = ", CRLs"
	}
	c := Check{Name: "verify", Expected: "quote signature, QE report, PCK chain to " + v.rootList(p, teename.TDX) + pcsInfo + crls}
	if e := q.cached; e != nil {
		vd.ChainCached = true
		vd.TrustRoot, vd.Simulated = e.trustRoot, e.simulated
		vd.FMSPC, vd.PPID = e.fmspc, e.ppid
		if q.header.GetTeeType() != tdxabi.TeeTDX {
			c.Detail = tdxabi.ErrTeeType.Error()
		} else if !verifyRawSig(e.attestKey, q.signed, q.sig) {
			c.Detail = tdxverify.ErrHashVerificationFail.Error() + " (chain cached)"
		} else {
			c.Pass, c.Measured = true, e.cachedMeasured
		}
		vd.add(c)
		if c.Pass && e.tcb != nil {
			recordTDXTCB(vd, e.tcb.clone(now), p)
			recordTDXForecast(vd, e.forecast, p)
		}
		return
	}
	chain, err := quoteChain(q)
	if err != nil {
		c.Detail = err.Error()
		vd.add(c)
		return
	}
	exts, extErr := pcs.PckCertificateExtensions(chain[0])
	if extErr == nil {
		vd.FMSPC, vd.PPID = exts.FMSPC, exts.PPID
	} else {
		exts = nil
	}
	name, simulated, pool := v.tdxRoots(p, chain[2])
	vd.TrustRoot, vd.Simulated = name, simulated
	if simulated && v.opts.TestRoots == nil {
		c.Detail = noTestRoots(p)
		vd.add(c)
		return
	}
	if hint := v.testRootHint(p, chain...); !simulated && hint != "" {
		// A chain the cctest TEST root issued never verifies against
		// Intel's root: say so without asking Intel PCS for collateral.
		c.Detail = "the PCK certificate chain does not chain to " + name + hint
		c.Measured = "chain presented: " + chain[2].Subject.String()
		vd.add(c)
		return
	}
	getter := v.opts.TDXGetter
	if simulated {
		getter = v.opts.TestRoots.TDXGetter
	}
	times := tdxTimes(now)
	var coll *tdxCollateral
	var mg *memoGetter
	if p.Collateral.Verify && exts != nil {
		mg = newMemoGetter(getter)
		ca := "platform"
		if strings.Contains(chain[0].Issuer.CommonName, "Processor") {
			ca = "processor"
		}
		coll = prefetchTDXCollateral(mg, exts.FMSPC, ca, p.Collateral.CheckRevocations)
		for i := range coll.artefacts {
			coll.artefacts[i].Stale = now.After(coll.artefacts[i].NextUpdate)
		}
		times, getter = coll.verifyTimes(now), mg
	}
	opts := &tdxverify.Options{
		TrustedRoots: pool, Now: times,
		GetCollateral: p.Collateral.Verify, CheckRevocations: p.Collateral.CheckRevocations,
		Getter: getter,
	}
	err = safeErr("go-tdx-guest verify", func() error { return tdxverify.TdxQuote(q.proto, opts) })
	var tcb *TDXTCBStatus
	if coll != nil {
		tcb, err = tdxTCBAfterVerify(err, coll, q, exts)
	}
	if err != nil {
		c.Detail = err.Error() + v.testRootHint(p, chain...)
		c.Measured = "chain presented: " + chain[2].Subject.String()
		vd.add(c)
		return
	}
	c.Pass, c.Measured = true, "valid; chain to "+name
	vd.add(c)
	var forecast *TDXTCBForecast
	if tcb != nil {
		recordTDXTCB(vd, tcb.clone(now), p)
		var roots *x509.CertPool
		if simulated {
			roots = pool
		}
		forecast = forecastTDX(forecastInput{g: mg, coll: coll, current: tcb, q: q, exts: exts, roots: roots,
			crls: p.Collateral.CheckRevocations, now: now})
		recordTDXForecast(vd, forecast, p)
	}
	nb, na := window(chain...)
	if p.Collateral.Verify && now.Add(v.opts.CollateralTTL).Before(na) {
		na = now.Add(v.opts.CollateralTTL)
	}
	ak := q.signedData.GetEcdsaAttestationKey()
	if v.cache == nil {
		return
	}
	v.cache.put(q.key, &chainEntry{notBefore: nb, notAfter: na, trustRoot: name, simulated: simulated, cachedMeasured: c.Measured + " (cached)",
		fmspc: vd.FMSPC, ppid: vd.PPID, tcb: tcb, forecast: forecast, signedData: q.signedData,
		attestKey: &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(ak[:32]), Y: new(big.Int).SetBytes(ak[32:])}})
}

// tdxTimes checks the chain and every piece of collateral at one instant.
func tdxTimes(t time.Time) *tdxverify.TimeSet {
	return &tdxverify.TimeSet{PckCertChain: t, TcbInfo: t, QeIdentity: t, PckCrl: t, RootCaCrl: t}
}

// collateralBodyFields are the body fields the PCS TCB checks read; with
// collateral on, a cached chain is only reused for quotes that agree on them.
func collateralBodyFields(p *policy.Policy, q *tdxQuote) []byte {
	if !p.Collateral.Verify {
		return nil
	}
	b := q.body
	return bytes.Join([][]byte{b.GetTeeTcbSvn(), b.GetMrSignerSeam(), b.GetSeamAttributes(), q.teeTcbSvn2}, []byte{0})
}

// verifyRawSig is go-tdx-guest's quote signature check (SHA-256 of the
// signed bytes, the 64-byte r || s signature as DER, ecdsa.VerifyASN1),
// with the DER built in a stack buffer instead of through big.Int.
func verifyRawSig(pub *ecdsa.PublicKey, msg, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	d := sha256.Sum256(msg)
	var buf [2 + 2*(2+33)]byte
	return ecdsa.VerifyASN1(pub, d[:], sigDER(buf[:0], sig))
}

// sigDER appends r || s (32 bytes each, big-endian) as the ASN.1
// ECDSA-Sig-Value abi.SignatureToDER makes: SEQUENCE of two minimal
// INTEGERs (leading zeros dropped, a 0x00 before a high bit). Every length
// is below 128, so each is one byte.
func sigDER(dst, sig []byte) []byte {
	r, rPad := derUint(sig[:32])
	s, sPad := derUint(sig[32:])
	dst = append(dst, 0x30, byte(2+rPad+len(r)+2+sPad+len(s)))
	return appendDERInt(appendDERInt(dst, r, rPad), s, sPad)
}

// derUint trims a big-endian unsigned value to its minimal INTEGER
// content; pad is 1 when a 0x00 must precede it (high bit set).
func derUint(b []byte) (v []byte, pad int) {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b, int(b[0] >> 7)
}

func appendDERInt(dst, v []byte, pad int) []byte {
	dst = append(dst, 0x02, byte(pad+len(v)))
	if pad == 1 {
		dst = append(dst, 0)
	}
	return append(dst, v...)
}

// quoteChain parses PCK, intermediate and root from the quote's PEM chain.
func quoteChain(q *tdxQuote) ([]*x509.Certificate, error) {
	rest := q.signedData.GetCertificationData().GetQeReportCertificationData().GetPckCertificateChainData().GetPckCertChain()
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

// rootList names the roots the policy trusts: "A", or "A or B".
func (v *Verifier) rootList(p *policy.Policy, tee string) string {
	vendor := trust.IntelVendorRootName
	if tee == teename.SNP {
		vendor = trust.AMDVendorRootName
	}
	switch test, ven := p.UsesTestRoots(), p.UsesVendorRoots(); {
	case test && ven:
		return v.testRootName(tee) + " or " + vendor
	case test:
		return v.testRootName(tee)
	case ven:
		return vendor
	}
	return ""
}

// bitCheck records a bit that must be clear; expected is "off (FIELD clear)".
func bitCheck(name string, set bool, expected, failDetail string) Check {
	c := Check{Name: name, Expected: expected, Measured: "off", Pass: !set}
	if set {
		c.Measured, c.Detail = "on", failDetail
	}
	return c
}

func tdxMeasurementCheck(vd *Verdict, body *pb.TDQuoteBody, p *policy.Policy, log *eventlog.Log) *policy.TDXMeasurement {
	c := Check{Name: "measurement"}
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
		c.Pass, c.Measured = true, "mrtd "+vd.Measurement+" = "+matched.Name
		vd.MatchedImage = matched.Name
	} else {
		c.Measured = "mrtd " + vd.Measurement
		c.Detail = fmt.Sprintf("MRTD %s (with its RTMRs) matches no allowed measurement %v%s%s",
			hex.EncodeToString(body.GetMrTd()), names, placeholderHint(p, teename.TDX), explainRTMRMismatch(p, body, log))
	}
	vd.add(c)
	return matched
}

func tdxMatches(m *policy.TDXMeasurement, body *pb.TDQuoteBody) bool {
	if !bytes.Equal(pin(m.MRTD), body.GetMrTd()) {
		return false
	}
	for i, r := range rtmrPins(m) {
		if r != nil && !bytes.Equal(r, body.GetRtmrs()[i]) {
			return false
		}
	}
	for i, r := range m.EventRTMRs() { // pinned events stand for their RTMR
		if r != nil && !bytes.Equal(r, body.GetRtmrs()[i]) {
			return false
		}
	}
	return true
}

// tdxTCBCheck compares the SVNs with the policy's floors; svnHex is
// TEE_TCB_SVN in hex (the verdict's TCB).
func tdxTCBCheck(q *tdxQuote, svnHex string, t *policy.TDX) Check {
	svn := q.body.GetTeeTcbSvn()
	qe := binary.LittleEndian.Uint16(q.header.GetQeSvn())
	pce := binary.LittleEndian.Uint16(q.header.GetPceSvn())
	c := Check{Name: "tcb", Measured: "TEE_TCB_SVN " + svnHex + ", QE SVN " + strconv.Itoa(int(qe)) + ", PCE SVN " + strconv.Itoa(int(pce))}
	min := pin(t.MinimumTeeTcbSvn)
	if min == nil && t.MinimumQeSvn == 0 && t.MinimumPceSvn == 0 {
		c.Pass, c.Skipped, c.Expected, c.Detail = true, true, "(no minimum)", "the policy sets no TCB minimum"
		return c
	}
	c.Expected = "TEE_TCB_SVN >= " + pinHex(t.MinimumTeeTcbSvn) + ", QE SVN >= " + strconv.Itoa(int(t.MinimumQeSvn)) +
		", PCE SVN >= " + strconv.Itoa(int(t.MinimumPceSvn))
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

// tdxLibraryValidate runs go-tdx-guest's validate as the second opinion
// on the header and TD report: the XFAM and TD_ATTRIBUTES fixed bits, the
// QE / PCE / TEE_TCB_SVN floors, MRSEAM and REPORT_DATA. MRTD and the
// RTMRs are not handed to it: the only values it could be given are the
// matched allowlist entry's, which the measurement check has just found
// byte-equal to the quote's, so that comparison could never fail; it cost
// most of a cached verification besides the signature (validate hex-encodes
// both sides of every pinned field for a debug log first).
func tdxLibraryValidate(q *tdxQuote, p *policy.Policy, expected []byte) Check {
	o := &tdxvalidate.Options{
		HeaderOptions: tdxvalidate.HeaderOptions{MinimumQeSvn: p.TDX.MinimumQeSvn, MinimumPceSvn: p.TDX.MinimumPceSvn},
		TdQuoteBodyOptions: tdxvalidate.TdQuoteBodyOptions{
			MinimumTeeTcbSvn: pin(p.TDX.MinimumTeeTcbSvn),
			MrSeam:           pin(p.TDX.MrSeam),
		},
	}
	if expected != nil {
		if want, err := ReportData(expected); err == nil {
			o.TdQuoteBodyOptions.ReportData = want[:]
		}
	}
	c := Check{Name: "validate", Expected: "go-tdx-guest validate accepts the quote under the policy"}
	if q.bodyType != 0 {
		c.Expected = "go-tdx-guest validate accepts the quote's header and TD report fields under the policy"
	}
	if err := safeErr("go-tdx-guest validate", func() error { return tdxvalidate.TdxQuote(q.v4View(), o) }); err != nil {
		c.Detail = err.Error()
		c.Measured = "rejected"
		return c
	}
	c.Pass, c.Measured = true, "accepted"
	return c
}
