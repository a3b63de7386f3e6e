package verifier

// TDX TCB status from Intel PCS collateral (TCB info v3, TD QE identity v2)
// and the freshness of that collateral. go-tdx-guest verify checks the
// collateral's signatures, the CRLs and the quote against TCB info / QE
// identity, but accepts only the status UpToDate; the policy here decides
// which statuses pass (tdx.acceptTcbStatuses) and whether collateral past
// its nextUpdate may be used (collateral.allowStale).

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cctest/cctest/attest/policy"
	"github.com/google/go-tdx-guest/pcs"
	tdxverify "github.com/google/go-tdx-guest/verify"
	tdxtrust "github.com/google/go-tdx-guest/verify/trust"
)

// TCBLevel is the TCB level Intel's collateral assigns to one component.
type TCBLevel struct {
	// Component is "platform" (CPU SVNs, PCE SVN, TEE_TCB_SVN against the
	// TCB info levels), "tdx-module" (TDX module identity, when
	// TEE_TCB_SVN[1] > 0) or "qe" (TD quoting enclave identity).
	Component   string   `json:"component"`
	Status      string   `json:"status"`
	TcbDate     string   `json:"tcbDate,omitempty"`
	AdvisoryIDs []string `json:"advisoryIDs,omitempty"`
}

// CollateralArtefact is one piece of collateral with its validity dates.
type CollateralArtefact struct {
	Name string `json:"name"` // "TCB info", "QE identity", "PCK CRL", "root CA CRL"
	URL  string `json:"url"`
	// IssueDate is TCB info / QE identity issueDate, a CRL's thisUpdate.
	IssueDate  time.Time `json:"issueDate"`
	NextUpdate time.Time `json:"nextUpdate"`
	// Stale: nextUpdate had passed at verification time.
	Stale bool `json:"stale,omitempty"`
}

// TDXTCBStatus is the TCB evaluation of one TDX quote.
type TDXTCBStatus struct {
	// Status is the worst of Levels' statuses (TCBStatuses order).
	Status                  string               `json:"status"`
	Levels                  []TCBLevel           `json:"levels"`
	TcbEvaluationDataNumber int                  `json:"tcbEvaluationDataNumber,omitempty"`
	Collateral              []CollateralArtefact `json:"collateral,omitempty"`
}

// AdvisoryIDs lists every level's advisories, once each.
func (s *TDXTCBStatus) AdvisoryIDs() []string {
	var out []string
	for _, l := range s.Levels {
		for _, a := range l.AdvisoryIDs {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

func (s *TDXTCBStatus) clone(now time.Time) *TDXTCBStatus {
	c := *s
	c.Levels = slices.Clone(s.Levels)
	c.Collateral = slices.Clone(s.Collateral)
	for i := range c.Collateral {
		c.Collateral[i].Stale = now.After(c.Collateral[i].NextUpdate)
	}
	return &c
}

func statusRank(s string) int {
	if i := slices.Index(policy.TCBStatuses, s); i >= 0 {
		return i
	}
	return len(policy.TCBStatuses) // unknown: worse than anything
}

// memoGetter fetches each URL once per verification and keeps the answer,
// so the dates read here and go-tdx-guest's verification see the same bytes.
type memoGetter struct {
	g  tdxtrust.HTTPSGetter
	mu sync.Mutex
	m  map[string]memoEntry
}

type memoEntry struct {
	h   map[string][]string
	b   []byte
	err error
}

func newMemoGetter(g tdxtrust.HTTPSGetter) *memoGetter {
	if g == nil {
		g = tdxtrust.DefaultHTTPSGetter()
	}
	return &memoGetter{g: g, m: map[string]memoEntry{}}
}

func (m *memoGetter) Get(u string) (map[string][]string, []byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.m[u]; ok {
		return e.h, e.b, e.err
	}
	var e memoEntry
	err := safeErr("collateral getter", func() error {
		var err error
		e.h, e.b, err = m.g.Get(u)
		return err
	})
	e.err = err
	m.m[u] = e
	return e.h, e.b, e.err
}

// tdxCollateral is what was read from the PCS answers before verification.
type tdxCollateral struct {
	tcbInfo    *pcs.TcbInfo
	qeIdentity *pcs.EnclaveIdentity
	artefacts  []CollateralArtefact
}

// prefetchTDXCollateral fetches TCB info, QE identity and (with revocation
// checks) the CRLs through the memo getter and reads their dates. Errors
// are left for go-tdx-guest to report when it fetches the same URLs.
func prefetchTDXCollateral(g *memoGetter, fmspc, ca string, crls bool) *tdxCollateral {
	out := &tdxCollateral{}
	if _, b, err := g.Get(pcs.TcbInfoURL(fmspc)); err == nil {
		var t pcs.TdxTcbInfo
		if json.Unmarshal(b, &t) == nil {
			out.tcbInfo = &t.TcbInfo
			out.artefacts = append(out.artefacts, CollateralArtefact{Name: "TCB info (FMSPC " + fmspc + ")", URL: pcs.TcbInfoURL(fmspc),
				IssueDate: t.TcbInfo.IssueDate, NextUpdate: t.TcbInfo.NextUpdate})
		}
	}
	var qeRoot *x509.Certificate
	if h, b, err := g.Get(pcs.QeIdentityURL()); err == nil {
		var q pcs.QeIdentity
		if json.Unmarshal(b, &q) == nil {
			out.qeIdentity = &q.EnclaveIdentity
			out.artefacts = append(out.artefacts, CollateralArtefact{Name: "QE identity", URL: pcs.QeIdentityURL(),
				IssueDate: q.EnclaveIdentity.IssueDate, NextUpdate: q.EnclaveIdentity.NextUpdate})
		}
		qeRoot = issuerChainRoot(h, pcs.SgxQeIdentityIssuerChainPhrase)
	}
	if !crls {
		return out
	}
	crl := func(name, u string) {
		if _, b, err := g.Get(u); err == nil {
			if l, err := x509.ParseRevocationList(b); err == nil {
				out.artefacts = append(out.artefacts, CollateralArtefact{Name: name, URL: u, IssueDate: l.ThisUpdate, NextUpdate: l.NextUpdate})
			}
		}
	}
	crl("PCK CRL ("+ca+" CA)", pcs.PckCrlURL(ca))
	if qeRoot != nil && len(qeRoot.CRLDistributionPoints) > 0 {
		crl("root CA CRL", qeRoot.CRLDistributionPoints[0])
	}
	return out
}

// issuerChainRoot reads the last certificate of a PCS issuer-chain header.
func issuerChainRoot(h map[string][]string, name string) *x509.Certificate {
	var v string
	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			v = vs[0]
		}
	}
	s, err := url.QueryUnescape(v)
	if err != nil {
		return nil
	}
	var last *x509.Certificate
	rest := []byte(s)
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return last
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			last = c
		}
	}
}

// verifyTimes is the instant go-tdx-guest checks each artefact at: now, or
// just before its nextUpdate when it is stale, so that the signatures and
// CRLs of stale collateral are still verified and staleness is judged by
// the policy (collateral-fresh), not as a verification error.
func (c *tdxCollateral) verifyTimes(now time.Time) *tdxverify.TimeSet {
	ts := tdxTimes(now)
	at := func(name string) time.Time {
		for _, a := range c.artefacts {
			if strings.HasPrefix(a.Name, name) && now.After(a.NextUpdate) {
				return a.NextUpdate.Add(-time.Second)
			}
		}
		return now
	}
	ts.TcbInfo, ts.QeIdentity, ts.PckCrl, ts.RootCaCrl = at("TCB info"), at("QE identity"), at("PCK CRL"), at("root CA CRL")
	// TCB info and QE identity share the root CA CRL check time in
	// verifyResponse via their own instants; nothing else to adjust.
	return ts
}

// isTCBStatusError reports a go-tdx-guest error raised only by its
// UpToDate-only status comparison, after every other check it makes on
// that component passed.
func isTCBStatusError(err error) (tdxBody, qe bool) {
	s := err.Error()
	const tdx = "TDX TCB info reported by Intel PCS failed TCB status check: "
	const q = "QE Identity reported by Intel PCS failed TCB status check: "
	status := func(prefix string) bool {
		i := strings.Index(s, prefix)
		if i < 0 {
			return false
		}
		rest := s[i+len(prefix):]
		return rest == tdxverify.ErrTdxTcbStatus.Error() || rest == tdxverify.ErrEnclaveTcbStatus.Error() ||
			strings.HasPrefix(rest, "TDX TCB Status is not") || strings.HasPrefix(rest, "QE TCB Status is not")
	}
	return status(tdx), status(q)
}

// evaluateTDXTCB finds the TCB levels of the platform, the TDX module and
// the QE as Intel's TCB info and QE identity define them (the matching
// rules of go-tdx-guest verify / Intel's QVL).
func evaluateTDXTCB(c *tdxCollateral, q *tdxQuote, exts *pcs.PckExtensions) (*TDXTCBStatus, error) {
	if c.tcbInfo == nil || c.qeIdentity == nil {
		return nil, fmt.Errorf("TCB info or QE identity could not be read")
	}
	if exts == nil {
		return nil, fmt.Errorf("the PCK certificate has no readable SGX extensions")
	}
	svn := q.body.GetTeeTcbSvn()
	if len(svn) != 16 {
		return nil, fmt.Errorf("TEE_TCB_SVN is %d bytes, want 16", len(svn))
	}
	out := &TDXTCBStatus{TcbEvaluationDataNumber: c.tcbInfo.TcbEvaluationDataNumber, Collateral: c.artefacts}
	add := func(comp string, l pcs.TcbLevel) {
		out.Levels = append(out.Levels, TCBLevel{Component: comp, Status: string(l.TcbStatus), TcbDate: l.TcbDate, AdvisoryIDs: l.AdvisoryIDs})
	}
	platform, ok := matchPlatformLevel(c.tcbInfo.TcbLevels, svn, exts)
	if !ok {
		return nil, fmt.Errorf("no TCB level in Intel's TCB info (FMSPC %s, tcbEvaluationDataNumber %d) matches this platform (CPUSVN %x, PCESVN %d, TEE_TCB_SVN %x): it is below every level Intel lists",
			c.tcbInfo.Fmspc, c.tcbInfo.TcbEvaluationDataNumber, exts.TCB.CPUSvnComponents, exts.TCB.PCESvn, svn)
	}
	add("platform", platform)
	if svn[1] > 0 {
		id := fmt.Sprintf("TDX_%02x", svn[1])
		var found bool
		for _, m := range c.tcbInfo.TdxModuleIdentities {
			if m.ID != id {
				continue
			}
			for _, l := range m.TcbLevels {
				if uint32(svn[0]) >= l.Tcb.Isvsvn {
					add("tdx-module", l)
					found = true
					break
				}
			}
			if !found {
				return nil, fmt.Errorf("TDX module identity %s in TCB info has no level for module SVN %d", id, svn[0])
			}
		}
		if !found {
			return nil, fmt.Errorf("TCB info lists no TDX module identity %s (TEE_TCB_SVN[1] = %d)", id, svn[1])
		}
	}
	isv := q.signedData.GetCertificationData().GetQeReportCertificationData().GetQeReport().GetIsvSvn()
	var qeFound bool
	for _, l := range c.qeIdentity.TcbLevels {
		if l.Tcb.Isvsvn <= isv {
			add("qe", l)
			qeFound = true
			break
		}
	}
	if !qeFound {
		return nil, fmt.Errorf("no QE identity level matches the QE's ISVSVN %d", isv)
	}
	out.Status = policy.TCBUpToDate
	for _, l := range out.Levels {
		if statusRank(l.Status) > statusRank(out.Status) {
			out.Status = l.Status
		}
	}
	return out, nil
}

func matchPlatformLevel(levels []pcs.TcbLevel, svn []byte, exts *pcs.PckExtensions) (pcs.TcbLevel, bool) {
	start := 0
	if svn[1] > 0 { // the TDX module is judged by its own identity
		start = 2
	}
	for _, l := range levels {
		sgx, tdx := l.Tcb.SgxTcbcomponents, l.Tcb.TdxTcbcomponents
		if len(sgx) != len(exts.TCB.CPUSvnComponents) || len(tdx) != len(svn) || exts.TCB.PCESvn < l.Tcb.Pcesvn {
			continue
		}
		ok := true
		for i := range sgx {
			ok = ok && exts.TCB.CPUSvnComponents[i] >= sgx[i].Svn
		}
		for i := start; i < len(svn); i++ {
			ok = ok && svn[i] >= tdx[i].Svn
		}
		if ok {
			return l, true
		}
	}
	return pcs.TcbLevel{}, false
}

// qeIdentityCheck repeats go-tdx-guest's QE report checks against the QE
// identity (all but the status); it runs when the library stopped at the
// TDX TCB status before reaching them.
func qeIdentityCheck(q *tdxQuote, id *pcs.EnclaveIdentity) error {
	r := q.signedData.GetCertificationData().GetQeReportCertificationData().GetQeReport()
	if len(id.Miscselect.Bytes) != 4 || len(id.MiscselectMask.Bytes) != 4 {
		return fmt.Errorf("QE identity MISCSELECT / mask are not 4 bytes")
	}
	if r.GetMiscSelect()&binary.LittleEndian.Uint32(id.MiscselectMask.Bytes) != binary.LittleEndian.Uint32(id.Miscselect.Bytes) {
		return fmt.Errorf("QE report MISCSELECT does not match Intel's QE identity")
	}
	attrs := r.GetAttributes()
	if len(id.AttributesMask.Bytes) != len(attrs) {
		return fmt.Errorf("QE identity attributes mask is %d bytes, QE report attributes %d", len(id.AttributesMask.Bytes), len(attrs))
	}
	masked := make([]byte, len(attrs))
	for i := range attrs {
		masked[i] = attrs[i] & id.AttributesMask.Bytes[i]
	}
	if !bytes.Equal(masked, id.Attributes.Bytes) {
		return fmt.Errorf("QE report attributes do not match Intel's QE identity")
	}
	if !bytes.Equal(r.GetMrSigner(), id.Mrsigner.Bytes) {
		return fmt.Errorf("QE report MRSIGNER is not the one in Intel's QE identity")
	}
	if r.GetIsvProdId() != uint32(id.IsvProdID) {
		return fmt.Errorf("QE report ISVPRODID %d is not %d", r.GetIsvProdId(), id.IsvProdID)
	}
	return nil
}

// tcbStatusCheck: every component's status must be one the policy accepts.
func tcbStatusCheck(s *TDXTCBStatus, t *policy.TDX) Check {
	accept := t.AcceptedTcbStatuses()
	c := Check{Name: "tcb-status", Expected: "one of [" + strings.Join(accept, ", ") + "] (tdx.acceptTcbStatuses)"}
	var parts, bad []string
	for _, l := range s.Levels {
		p := l.Component + " " + l.Status
		if len(l.AdvisoryIDs) > 0 {
			p += " (" + strings.Join(l.AdvisoryIDs, ", ") + ")"
		}
		parts = append(parts, p)
		if !slices.Contains(accept, l.Status) || l.Status == policy.TCBRevoked {
			bad = append(bad, p)
		}
	}
	c.Measured = strings.Join(parts, "; ")
	c.Pass = len(bad) == 0
	if !c.Pass {
		c.Detail = fmt.Sprintf("Intel TCB status not accepted by the policy: %s; tdx.acceptTcbStatuses is [%s] (TCB info tcbEvaluationDataNumber %d)",
			strings.Join(bad, "; "), strings.Join(accept, ", "), s.TcbEvaluationDataNumber)
	}
	return c
}

// freshnessCheck: no collateral past its nextUpdate unless the policy
// allows stale collateral.
func freshnessCheck(arts []CollateralArtefact, p *policy.Policy) Check {
	c := Check{Name: "collateral-fresh", Expected: "every artefact before its nextUpdate"}
	if p.Collateral.AllowStale {
		c.Expected = "stale collateral allowed (collateral.allowStale)"
	}
	var stale, all []string
	for _, a := range arts {
		all = append(all, fmt.Sprintf("%s next update %s", a.Name, a.NextUpdate.UTC().Format(time.RFC3339)))
		if a.Stale {
			stale = append(stale, fmt.Sprintf("%s (nextUpdate %s)", a.Name, a.NextUpdate.UTC().Format(time.RFC3339)))
		}
	}
	c.Measured = strings.Join(all, "; ")
	if len(stale) > 0 {
		c.Measured = "STALE: " + strings.Join(stale, "; ")
	}
	c.Pass = len(stale) == 0 || p.Collateral.AllowStale
	if !c.Pass {
		c.Detail = "stale collateral: " + strings.Join(stale, "; ") +
			" has passed its nextUpdate (a replay from --collateral-dir is older than Intel allows); refresh it online, or set collateral.allowStale: true"
	}
	return c
}

// staleNote explains a stale artefact that passed only because the policy allows it.
func staleNote(arts []CollateralArtefact) string {
	var s []string
	for _, a := range arts {
		if a.Stale {
			s = append(s, fmt.Sprintf("%s (nextUpdate %s)", a.Name, a.NextUpdate.UTC().Format(time.RFC3339)))
		}
	}
	if len(s) == 0 {
		return ""
	}
	return "stale collateral accepted because collateral.allowStale is true: " + strings.Join(s, "; ")
}

// recordTDXTCB adds the TCB status and freshness checks to the verdict.
func recordTDXTCB(vd *Verdict, s *TDXTCBStatus, p *policy.Policy) {
	vd.TDXTCB = s
	vd.add(tcbStatusCheck(s, p.TDX))
	vd.add(freshnessCheck(s.Collateral, p))
	if p.Collateral.AllowStale {
		if n := staleNote(s.Collateral); n != "" {
			vd.Notes = append(vd.Notes, n)
		}
	}
}

// tdxTCBAfterVerify turns go-tdx-guest's result into the TCB evaluation.
// The library passes only UpToDate; when it stopped at a status comparison
// everything it checks before that passed, the status goes to the policy
// (tcb-status), and the QE report checks it skipped are made here.
func tdxTCBAfterVerify(err error, coll *tdxCollateral, q *tdxQuote, exts *pcs.PckExtensions) (*TDXTCBStatus, error) {
	if err != nil {
		tdxBody, qe := isTCBStatusError(err)
		if !tdxBody && !qe {
			return nil, err
		}
		if tdxBody && coll.qeIdentity != nil {
			if e := qeIdentityCheck(q, coll.qeIdentity); e != nil {
				return nil, fmt.Errorf("QE identity: %v", e)
			}
		}
	}
	st, e := evaluateTDXTCB(coll, q, exts)
	if e != nil {
		if err != nil {
			return nil, fmt.Errorf("%v; TCB evaluation: %v", err, e)
		}
		return nil, fmt.Errorf("TCB evaluation: %v", e)
	}
	return st, nil
}
