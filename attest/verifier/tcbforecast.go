package verifier

// The next TCB recovery, ahead of time. Intel PCS v4 serves, beside the
// standard TCB info, the EARLY TCB info (update=early: the newest
// tcbEvaluationDataNumber, published before it becomes standard) and the
// list of evaluation data numbers with their TCB recovery event dates. A
// platform's status under the early TCB info is what it will be from that
// number's tcbRecoveryEventDate. Both answers are signed by the Intel SGX
// TCB Signing key like the standard TCB info; go-tdx-guest verifies only
// the collateral it fetches itself (its verifyResponse is unexported), so
// the same checks are made here: the issuer chain to the trusted root, the
// ECDSA-P256 signature over the exact body bytes, and (with
// checkRevocations) the root CA CRL.
//
// The forecast is informational: it never fails a verdict.
// tdx.warnUpcomingOutOfDate adds a verdict note when the early status is one
// the policy would not accept.

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/trust"
	"github.com/google/go-tdx-guest/pcs"
)

// ForecastInformational is said in every forecast: it never fails a verdict.
const ForecastInformational = "informational: the forecast never fails a verdict by itself"

// EarlyTcbInfoURL is PCS's early TCB info for an FMSPC.
func EarlyTcbInfoURL(fmspc string) string { return pcs.TcbInfoURL(fmspc) + "&update=early" }

// TcbEvaluationDataNumbersURL is PCS's list of TCB evaluation data numbers.
func TcbEvaluationDataNumbersURL() string { return pcs.TdxBaseURL + "/tcbevaluationdatanumbers" }

const (
	tcbEvalNumbersIssuerChain = "Tcb-Evaluation-Data-Numbers-Issuer-Chain"
	tcbSigningCN              = "Intel SGX TCB Signing"
)

// ComponentUpdate names a component that must update to leave the early
// TCB info's lower levels.
type ComponentUpdate struct {
	// Component is "TDX module" (TEE_TCB_SVN / TDX module identity),
	// "microcode / BIOS" (the platform SGX TCB components, TDX late
	// microcode) or "PCE".
	Component string `json:"component"`
	Detail    string `json:"detail"`
}

// TDXTCBForecast is a TDX platform's status under Intel's early TCB info.
type TDXTCBForecast struct {
	// Available: an early TCB info was fetched, verified and evaluated.
	Available bool `json:"available"`
	// Unavailable says why there is no forecast when the early collateral
	// could not be fetched (a replay without it, a PCS mirror without it):
	// not an error.
	Unavailable string `json:"unavailable,omitempty"`
	// Refused says why fetched early collateral was rejected (bad
	// signature, foreign FMSPC, a number older than the standard one).
	Refused string `json:"refused,omitempty"`
	// Pending: the early TCB info is newer than the standard one.
	Pending bool `json:"pending"`
	// Status is the worst early status of the platform and TDX module (the
	// QE keeps its standard identity); CurrentStatus the standard one.
	Status        string     `json:"status,omitempty"`
	CurrentStatus string     `json:"currentStatus,omitempty"`
	Levels        []TCBLevel `json:"levels,omitempty"`
	// StandardEvaluationDataNumber and EarlyEvaluationDataNumber are the
	// tcbEvaluationDataNumbers of the standard and the early TCB info.
	StandardEvaluationDataNumber int `json:"standardEvaluationDataNumber"`
	EarlyEvaluationDataNumber    int `json:"earlyEvaluationDataNumber,omitempty"`
	// EffectiveDate is the tcbRecoveryEventDate of the early number (nil:
	// the evaluation data numbers list was unavailable or lacks it).
	EffectiveDate *time.Time `json:"effectiveDate,omitempty"`
	// ComponentsToUpdate: what must update for UpToDate under the early info.
	ComponentsToUpdate []ComponentUpdate    `json:"componentsToUpdate,omitempty"`
	Collateral         []CollateralArtefact `json:"collateral,omitempty"`
	Summary            string               `json:"summary"`
}

// Components lists the distinct components to update.
func (f *TDXTCBForecast) Components() []string {
	var out []string
	for _, c := range f.ComponentsToUpdate {
		if !slices.Contains(out, c.Component) {
			out = append(out, c.Component)
		}
	}
	return out
}

// verifySignedPCS checks a signed PCS JSON answer: the signing certificate
// of the issuer-chain header is the Intel SGX TCB Signing certificate and
// chains to roots at now, it is not on the root CA CRL (when crl is given),
// and the hex r||s signature covers the exact bytes of body[field].
func verifySignedPCS(name string, h map[string][]string, body []byte, header, field string, roots *x509.CertPool, crl func(root *x509.Certificate) (*x509.RevocationList, error), now time.Time) (json.RawMessage, error) {
	var chain string
	for k, vs := range h {
		if strings.EqualFold(k, header) && len(vs) > 0 {
			chain = vs[0]
		}
	}
	if chain == "" {
		return nil, fmt.Errorf("%s: the answer has no %s header", name, header)
	}
	s, err := url.QueryUnescape(chain)
	if err != nil {
		return nil, fmt.Errorf("%s: %s header: %v", name, header, err)
	}
	var certs []*x509.Certificate
	for rest := []byte(s); ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %s header: %v", name, header, err)
		}
		certs = append(certs, c)
	}
	if len(certs) != 2 {
		return nil, fmt.Errorf("%s: %s header holds %d certificates, want the TCB signing certificate and the root", name, header, len(certs))
	}
	signer, root := certs[0], certs[1]
	if signer.Subject.CommonName != tcbSigningCN {
		return nil, fmt.Errorf("%s: signed by %q, not %q", name, signer.Subject.CommonName, tcbSigningCN)
	}
	pub, ok := signer.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve.Params().Name != "P-256" || signer.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		return nil, fmt.Errorf("%s: the TCB signing certificate is not ECDSA P-256 / SHA-256", name)
	}
	inter := x509.NewCertPool()
	if _, err := signer.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("%s: the TCB signing certificate does not chain to the trusted root: %v", name, err)
	}
	if crl != nil {
		l, err := crl(root)
		if err != nil {
			return nil, fmt.Errorf("%s: root CA CRL: %v", name, err)
		}
		if err := l.CheckSignatureFrom(root); err != nil || root.CheckSignatureFrom(root) != nil {
			return nil, fmt.Errorf("%s: the root CA CRL is not signed by the root", name)
		}
		for _, e := range l.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(signer.SerialNumber) == 0 {
				return nil, fmt.Errorf("%s: the TCB signing certificate was revoked at %s", name, e.RevocationTime.UTC().Format(time.RFC3339))
			}
		}
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%s: not JSON: %v", name, err)
	}
	raw, ok := m[field]
	var sigHex string
	if !ok || json.Unmarshal(m["signature"], &sigHex) != nil {
		return nil, fmt.Errorf("%s: the answer lacks %q or \"signature\"", name, field)
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil || len(sig) != 64 {
		return nil, fmt.Errorf("%s: the signature is not 64 bytes of hex (r||s)", name)
	}
	d := sha256.Sum256(raw)
	if !ecdsa.Verify(pub, d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return nil, fmt.Errorf("%s: the signature does not verify with the Intel SGX TCB Signing key: the body was altered after Intel signed it", name)
	}
	return raw, nil
}

type tcbEvalNumbers struct {
	ID             string    `json:"id"`
	IssueDate      time.Time `json:"issueDate"`
	NextUpdate     time.Time `json:"nextUpdate"`
	TcbEvalNumbers []struct {
		Number               int       `json:"tcbEvaluationDataNumber"`
		TcbRecoveryEventDate time.Time `json:"tcbRecoveryEventDate"`
		TcbDate              time.Time `json:"tcbDate"`
	} `json:"tcbEvalNumbers"`
}

// forecastInput is what the forecast reads besides the PCS answers.
type forecastInput struct {
	g       *memoGetter
	coll    *tdxCollateral // the standard collateral, already verified
	current *TDXTCBStatus
	q       *tdxQuote
	exts    *pcs.PckExtensions
	roots   *x509.CertPool // nil: Intel's root
	crls    bool
	now     time.Time
}

// forecastTDX evaluates the platform under the early TCB info. It never
// returns nil and never panics.
func forecastTDX(in forecastInput) (f *TDXTCBForecast) {
	f = &TDXTCBForecast{StandardEvaluationDataNumber: in.current.TcbEvaluationDataNumber, CurrentStatus: in.current.Status}
	defer func() {
		if r := recover(); r != nil {
			*f = TDXTCBForecast{StandardEvaluationDataNumber: f.StandardEvaluationDataNumber, CurrentStatus: f.CurrentStatus,
				Refused: fmt.Sprintf("TCB forecast: internal error: %v", r)}
		}
		f.Summary = f.summary()
	}()
	roots := in.roots
	if roots == nil {
		roots = trust.IntelVendorPool()
	}
	var crl func(*x509.Certificate) (*x509.RevocationList, error)
	if in.crls {
		crl = func(root *x509.Certificate) (*x509.RevocationList, error) {
			if len(root.CRLDistributionPoints) == 0 {
				return nil, fmt.Errorf("the root names no CRL distribution point")
			}
			_, b, err := in.g.Get(root.CRLDistributionPoints[0])
			if err != nil {
				return nil, err
			}
			return x509.ParseRevocationList(b)
		}
	}
	fmspc := in.exts.FMSPC
	u := EarlyTcbInfoURL(fmspc)
	h, b, err := in.g.Get(u)
	if err != nil {
		f.Unavailable = "the early TCB info could not be fetched: " + err.Error()
		return f
	}
	raw, err := verifySignedPCS("early TCB info", h, b, pcs.TcbInfoIssuerChainPhrase, "tcbInfo", roots, crl, in.now)
	if err != nil {
		f.Refused = err.Error()
		return f
	}
	var early pcs.TcbInfo
	if err := json.Unmarshal(raw, &early); err != nil {
		f.Refused = "early TCB info: " + err.Error()
		return f
	}
	switch {
	case early.ID != "TDX":
		f.Refused = fmt.Sprintf("early TCB info: id %q, want TDX", early.ID)
	case !strings.EqualFold(early.Fmspc, fmspc):
		f.Refused = fmt.Sprintf("early TCB info is for FMSPC %s, not this platform's %s", early.Fmspc, fmspc)
	case early.TcbEvaluationDataNumber < f.StandardEvaluationDataNumber:
		f.Refused = fmt.Sprintf("early TCB info has tcbEvaluationDataNumber %d, older than the standard %d (a rollback)", early.TcbEvaluationDataNumber, f.StandardEvaluationDataNumber)
	}
	if f.Refused != "" {
		return f
	}
	f.EarlyEvaluationDataNumber = early.TcbEvaluationDataNumber
	f.Pending = early.TcbEvaluationDataNumber > f.StandardEvaluationDataNumber
	f.Collateral = append(f.Collateral, CollateralArtefact{Name: "early TCB info (FMSPC " + fmspc + ")", URL: u,
		IssueDate: early.IssueDate, NextUpdate: early.NextUpdate, Stale: in.now.After(early.NextUpdate)})

	// The evaluation data numbers give the date; without them the
	// forecast stands, undated.
	if h, b, err := in.g.Get(TcbEvaluationDataNumbersURL()); err == nil {
		raw, err := verifySignedPCS("TCB evaluation data numbers", h, b, tcbEvalNumbersIssuerChain, "tcbEvaluationDataNumbers", roots, crl, in.now)
		var list tcbEvalNumbers
		if err == nil {
			if e := json.Unmarshal(raw, &list); e != nil {
				err = fmt.Errorf("TCB evaluation data numbers: %v", e)
			}
		}
		if err != nil {
			f.Refused = err.Error()
			return f
		}
		f.Collateral = append(f.Collateral, CollateralArtefact{Name: "TCB evaluation data numbers", URL: TcbEvaluationDataNumbersURL(),
			IssueDate: list.IssueDate, NextUpdate: list.NextUpdate, Stale: in.now.After(list.NextUpdate)})
		for _, n := range list.TcbEvalNumbers {
			if n.Number == early.TcbEvaluationDataNumber {
				d := n.TcbRecoveryEventDate.UTC()
				f.EffectiveDate = &d
			}
		}
	}

	ec := &tdxCollateral{tcbInfo: &early, qeIdentity: in.coll.qeIdentity}
	st, err := evaluateTDXTCB(ec, in.q, in.exts)
	if err != nil {
		f.Refused = "early TCB info: " + err.Error()
		return f
	}
	f.Available = true
	f.Status = policy.TCBUpToDate
	for _, l := range st.Levels {
		if l.Component == "qe" {
			continue
		}
		f.Levels = append(f.Levels, l)
		if statusRank(l.Status) > statusRank(f.Status) {
			f.Status = l.Status
		}
	}
	if f.Status != policy.TCBUpToDate {
		f.ComponentsToUpdate = componentsToUpdate(&early, in.q.body.GetTeeTcbSvn(), in.exts)
	}
	return f
}

// componentsToUpdate compares the platform with the early TCB info's
// newest UpToDate level (and the TDX module identity's) component by component.
func componentsToUpdate(info *pcs.TcbInfo, svn []byte, exts *pcs.PckExtensions) []ComponentUpdate {
	var out []ComponentUpdate
	name := func(c pcs.TcbComponent) string {
		n := strings.TrimSpace(c.Type)
		if c.Category != "" {
			if n != "" {
				n += ", "
			}
			n += c.Category
		}
		if n == "" {
			return ""
		}
		return " (" + n + ")"
	}
	for _, l := range info.TcbLevels {
		if string(l.TcbStatus) != policy.TCBUpToDate {
			continue
		}
		sgx, tdx := l.Tcb.SgxTcbcomponents, l.Tcb.TdxTcbcomponents
		for i := range sgx {
			if i < len(exts.TCB.CPUSvnComponents) && exts.TCB.CPUSvnComponents[i] < sgx[i].Svn {
				out = append(out, ComponentUpdate{"microcode / BIOS", fmt.Sprintf("SGX TCB component %d%s %d → %d", i, name(sgx[i]), exts.TCB.CPUSvnComponents[i], sgx[i].Svn)})
			}
		}
		if exts.TCB.PCESvn < l.Tcb.Pcesvn {
			out = append(out, ComponentUpdate{"PCE", fmt.Sprintf("PCESVN %d → %d", exts.TCB.PCESvn, l.Tcb.Pcesvn)})
		}
		start := 0
		if svn[1] > 0 {
			start = 2 // judged by the TDX module identity below
		}
		for i := start; i < len(tdx) && i < len(svn); i++ {
			if svn[i] >= tdx[i].Svn {
				continue
			}
			comp := "TDX module"
			if i >= 2 && (strings.Contains(strings.ToLower(tdx[i].Type), "microcode") || tdx[i].Type == "") {
				comp = "microcode / BIOS"
			}
			out = append(out, ComponentUpdate{comp, fmt.Sprintf("TEE_TCB_SVN[%d]%s %d → %d", i, name(tdx[i]), svn[i], tdx[i].Svn)})
		}
		break
	}
	if svn[1] > 0 {
		id := fmt.Sprintf("TDX_%02x", svn[1])
		for _, m := range info.TdxModuleIdentities {
			if !strings.EqualFold(m.ID, id) {
				continue
			}
			for _, l := range m.TcbLevels {
				if string(l.TcbStatus) == policy.TCBUpToDate {
					if uint32(svn[0]) < l.Tcb.Isvsvn {
						out = append(out, ComponentUpdate{"TDX module", fmt.Sprintf("%s module SVN (TEE_TCB_SVN[0]) %d → %d", m.ID, svn[0], l.Tcb.Isvsvn)})
					}
					break
				}
			}
		}
	}
	if len(out) == 0 {
		out = append(out, ComponentUpdate{"configuration", "no SVN update reaches UpToDate under the early TCB info: the status asks for configuration or software hardening (see the advisories)"})
	}
	return out
}

func (f *TDXTCBForecast) summary() string {
	switch {
	case f.Refused != "":
		return "TCB forecast refused: " + f.Refused + " (" + ForecastInformational + ")"
	case f.Unavailable != "":
		return "TCB forecast unavailable: " + f.Unavailable + " (not an error; " + ForecastInformational + ")"
	case !f.Pending:
		return fmt.Sprintf("no TCB recovery pending: the early TCB info is the standard one (tcbEvaluationDataNumber %d), status %s (%s)",
			f.EarlyEvaluationDataNumber, f.Status, ForecastInformational)
	}
	when := "on a date the TCB evaluation data numbers did not give"
	if f.EffectiveDate != nil {
		when = "from " + f.EffectiveDate.Format("2006-01-02") + " (its TCB recovery event date)"
	}
	s := fmt.Sprintf("under the early TCB info (tcbEvaluationDataNumber %d, standard %d) this platform is %s %s",
		f.EarlyEvaluationDataNumber, f.StandardEvaluationDataNumber, f.Status, when)
	var adv []string
	for _, l := range f.Levels {
		for _, a := range l.AdvisoryIDs {
			if !slices.Contains(adv, a) {
				adv = append(adv, a)
			}
		}
	}
	if len(adv) > 0 && f.Status != policy.TCBUpToDate {
		s += " (advisories " + strings.Join(adv, ", ") + ")"
	}
	if len(f.ComponentsToUpdate) > 0 {
		var d []string
		for _, c := range f.ComponentsToUpdate {
			d = append(d, c.Component+": "+c.Detail)
		}
		s += "; update " + strings.Join(d, "; ")
	}
	return s + " (" + ForecastInformational + ")"
}

// recordTDXForecast puts the forecast on the verdict; with
// tdx.warnUpcomingOutOfDate a pending status the policy would reject
// becomes a note (never a failed check).
func recordTDXForecast(vd *Verdict, f *TDXTCBForecast, p *policy.Policy) {
	if f == nil {
		return
	}
	c := *f
	vd.TDXTCBForecast = &c
	if p.TDX == nil || !p.TDX.WarnUpcomingOutOfDate {
		return
	}
	switch {
	case c.Refused != "":
		vd.Notes = append(vd.Notes, "warning: "+c.Summary)
	case c.Available && c.Pending && !slices.Contains(p.TDX.AcceptedTcbStatuses(), c.Status):
		vd.Notes = append(vd.Notes, "warning (tdx.warnUpcomingOutOfDate): "+c.Summary)
	}
}
