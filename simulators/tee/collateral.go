package tee

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cctest/cctest/simulators/tee/testpki"
	"github.com/google/go-sev-guest/kds"
)

// registry is process-wide state the fake collateral services read:
// revoked PCK / ASK serials (FaultRevoked) and minted VCEKs (served by the
// KDS).
var registry = struct {
	sync.RWMutex
	revoked map[string]bool
	vceks   map[string][]byte
}{revoked: map[string]bool{}, vceks: map[string][]byte{}}

func revoke(serial *big.Int) {
	registry.Lock()
	registry.revoked[serial.Text(16)] = true
	registry.Unlock()
}

func vcekKey(line string, chipID []byte, tcb kds.TCBParts) string {
	return fmt.Sprintf("%s/%x/%d.%d.%d.%d", line, chipID, tcb.BlSpl, tcb.TeeSpl, tcb.SnpSpl, tcb.UcodeSpl)
}

func registerVCEK(line string, chipID []byte, tcb kds.TCBParts, der []byte) {
	registry.Lock()
	registry.vceks[vcekKey(line, chipID, tcb)] = der
	registry.Unlock()
}

// PCS is an in-process fake of Intel's Provisioning Certification Service
// (v4): TDX TCB info, TD QE identity, the PCK CRL and the root CA CRL, all
// signed by the test PKI. It answers for any host, so it can sit behind the
// libraries' Getter (offline) or an HTTP listener on loopback.
type PCS struct {
	// Now is the clock collateral is issued against (default time.Now).
	Now func() time.Time
	// Expired issues collateral whose nextUpdate has passed.
	Expired bool
	// RevokePlatformCA lists the PCK platform CA in the root CA CRL.
	RevokePlatformCA bool
	// TCBStatus of the level matching the simulators' default TCB
	// (default "UpToDate"); lower TCBs are always "OutOfDate".
	TCBStatus string
	// AdvisoryIDs of that level (e.g. INTEL-SA-00837).
	AdvisoryIDs []string
	// QEStatus of the QE identity level matching the simulators' QE
	// (default "UpToDate").
	QEStatus string
	// ModuleStatus of the TDX module identity level (TDX_01, ...) that
	// quotes with TEE_TCB_SVN[1] > 0 match (default "UpToDate").
	ModuleStatus string

	// EarlyRecovery is the simulated upcoming TCB recovery the early TCB
	// info (update=early, tcbEvaluationDataNumber 18) announces: "" or
	// "tdx-module" (the TDX module SVN must rise by one), "microcode" (the
	// SGX late microcode update component must rise by one), or "none"
	// (early = standard, number 17).
	EarlyRecovery string
	// RecoveryIn is how far after Now the recovery event of number 18
	// lies (default 14 days).
	RecoveryIn time.Duration
	// NoEarly answers 404 for the early TCB info and the evaluation data
	// numbers, as a PCS mirror that keeps standard collateral only.
	NoEarly bool
	// TamperEarly changes the early TCB info after it is signed.
	TamperEarly bool
}

// NewPCS returns a fake PCS with defaults.
func NewPCS() *PCS { return &PCS{} }

func (p *PCS) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *PCS) window() (time.Time, time.Time) {
	now := p.now()
	if p.Expired {
		return now.Add(-60 * 24 * time.Hour), now.Add(-30 * 24 * time.Hour)
	}
	return now.Add(-time.Hour), now.Add(30 * 24 * time.Hour)
}

// ServeHTTP serves the PCS endpoints the TDX verifier uses.
func (p *PCS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	pk, err := testPKI()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	path := r.URL.Path
	switch {
	case strings.HasSuffix(path, "/tdx/certification/v4/tcb"):
		fmspc := r.URL.Query().Get("fmspc")
		if len(fmspc) != 12 {
			http.Error(w, "fmspc must be 12 hex characters", http.StatusBadRequest)
			return
		}
		var body []byte
		var err error
		switch update := r.URL.Query().Get("update"); update {
		case "", "standard":
			body, err = p.tcbInfo(pk, strings.ToLower(fmspc))
		case "early":
			if p.NoEarly {
				http.Error(w, "early TCB info is not simulated (PCS.NoEarly)", http.StatusNotFound)
				return
			}
			body, err = p.earlyTcbInfo(pk, strings.ToLower(fmspc))
		default:
			http.Error(w, "update must be early or standard", http.StatusBadRequest)
			return
		}
		p.reply(w, "Tcb-Info-Issuer-Chain", testpki.IntelTCBSigning(), body, err)
	case strings.HasSuffix(path, "/tdx/certification/v4/tcbevaluationdatanumbers"):
		if p.NoEarly {
			http.Error(w, "TCB evaluation data numbers are not simulated (PCS.NoEarly)", http.StatusNotFound)
			return
		}
		body, err := p.evaluationDataNumbers(pk)
		p.reply(w, "Tcb-Evaluation-Data-Numbers-Issuer-Chain", testpki.IntelTCBSigning(), body, err)
	case strings.HasSuffix(path, "/tdx/certification/v4/qe/identity"):
		body, err := p.qeIdentity(pk)
		p.reply(w, "Sgx-Enclave-Identity-Issuer-Chain", testpki.IntelTCBSigning(), body, err)
	case strings.HasSuffix(path, "/sgx/certification/v4/pckcrl"):
		if r.URL.Query().Get("ca") != "platform" {
			http.Error(w, "only ca=platform is simulated", http.StatusNotFound)
			return
		}
		registry.RLock()
		var serials []*big.Int
		for s := range registry.revoked {
			n, _ := new(big.Int).SetString(s, 16)
			serials = append(serials, n)
		}
		registry.RUnlock()
		body, err := p.crl(testpki.IntelPCKPlatformCA(), pk.pckCAKey, serials)
		p.reply(w, "Sgx-Pck-Crl-Issuer-Chain", testpki.IntelPCKPlatformCA(), body, err)
	case strings.HasSuffix(path, "/IntelSGXRootCA.der"):
		var serials []*big.Int
		if p.RevokePlatformCA {
			serials = append(serials, testpki.IntelPCKPlatformCA().SerialNumber)
		}
		body, err := p.crl(testpki.IntelRoot(), pk.intelRootKey, serials)
		p.reply(w, "", nil, body, err)
	default:
		http.NotFound(w, r)
	}
}

func (p *PCS) reply(w http.ResponseWriter, chainHeader string, signer *x509.Certificate, body []byte, err error) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if chainHeader != "" {
		var chain bytes.Buffer
		_ = pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: signer.Raw})
		_ = pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: testpki.IntelRoot().Raw})
		w.Header().Set(chainHeader, url.QueryEscape(chain.String()))
	}
	_, _ = w.Write(body)
}

type tcbComponent struct {
	Svn byte `json:"svn"`
}

func components(svn []byte) []tcbComponent {
	out := make([]tcbComponent, 16)
	for i := range out {
		if i < len(svn) {
			out[i].Svn = svn[i]
		}
	}
	return out
}

func (p *PCS) tcbInfo(pk *pki, fmspc string) ([]byte, error) {
	return signedJSON(pk, "tcbInfo", p.tcbInfoBody(fmspc))
}

// tcbInfoBody is the standard TCB info (tcbEvaluationDataNumber 17).
func (p *PCS) tcbInfoBody(fmspc string) map[string]any {
	issue, next := p.window()
	status := p.TCBStatus
	if status == "" {
		status = "UpToDate"
	}
	level := func(tdx []byte, st string, adv []string) map[string]any {
		l := map[string]any{
			"tcb": map[string]any{
				"sgxtcbcomponents": components(DefaultCPUSVN[:]), "pcesvn": pceSvn,
				"tdxtcbcomponents": components(tdx),
			},
			"tcbDate": "2025-01-01T00:00:00Z", "tcbStatus": st,
		}
		if len(adv) > 0 {
			l["advisoryIDs"] = adv
		}
		return l
	}
	module := p.ModuleStatus
	if module == "" {
		module = "UpToDate"
	}
	var modules []any
	for v := 1; v <= 3; v++ {
		modules = append(modules, map[string]any{
			"id": fmt.Sprintf("TDX_%02X", v), "mrsigner": strings.Repeat("00", 48), "attributes": "0000000000000000", "attributesMask": "FFFFFFFFFFFFFFFF",
			"tcbLevels": []any{
				map[string]any{"tcb": map[string]any{"isvsvn": DefaultTeeTcbSvn[0]}, "tcbDate": "2025-01-01T00:00:00Z", "tcbStatus": module},
				map[string]any{"tcb": map[string]any{"isvsvn": 0}, "tcbDate": "2024-01-01T00:00:00Z", "tcbStatus": "OutOfDate"},
			},
		})
	}
	info := map[string]any{
		"id": "TDX", "version": 3, "issueDate": issue.UTC().Format(time.RFC3339), "nextUpdate": next.UTC().Format(time.RFC3339),
		"fmspc": fmspc, "pceId": "0000", "tcbType": 0, "tcbEvaluationDataNumber": 17,
		"tdxModule":           map[string]string{"mrsigner": strings.Repeat("00", 48), "attributes": "0000000000000000", "attributesMask": "FFFFFFFFFFFFFFFF"},
		"tdxModuleIdentities": modules,
		"tcbLevels":           []any{level(DefaultTeeTcbSvn[:], status, p.AdvisoryIDs), level(nil, "OutOfDate", []string{"INTEL-SA-00000"})},
	}
	return info
}

func (p *PCS) qeIdentity(pk *pki) ([]byte, error) {
	issue, next := p.window()
	qeStatus := p.QEStatus
	if qeStatus == "" {
		qeStatus = "UpToDate"
	}
	id := map[string]any{
		"id": "TD_QE", "version": 2, "issueDate": issue.UTC().Format(time.RFC3339), "nextUpdate": next.UTC().Format(time.RFC3339),
		"tcbEvaluationDataNumber": 17, "miscselect": "00000000", "miscselectMask": "FFFFFFFF",
		"attributes": strings.ToUpper(hex.EncodeToString(qeAttributes)), "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000",
		"mrsigner": strings.ToUpper(hex.EncodeToString(qeMrSigner)), "isvprodid": qeIsvProdID,
		"tcbLevels": []any{map[string]any{"tcb": map[string]any{"isvsvn": qeIsvSvn}, "tcbDate": "2025-01-01T00:00:00Z", "tcbStatus": qeStatus}},
	}
	return signedJSON(pk, "enclaveIdentity", id)
}

// signedJSON renders {"<field>": body, "signature": hex(r||s)} with the
// signature over the exact body bytes, as Intel PCS does.
func signedJSON(pk *pki, field string, v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(raw)
	sig, err := rawSign(pk.tcbKey, digest[:])
	if err != nil {
		return nil, err
	}
	return []byte(fmt.Sprintf(`{"%s":%s,"signature":"%s"}`, field, raw, hex.EncodeToString(sig))), nil
}

func (p *PCS) crl(issuer *x509.Certificate, key crypto.Signer, serials []*big.Int) ([]byte, error) {
	return makeCRL(issuer, key, serials, p.now(), p.Expired)
}

func makeCRL(issuer *x509.Certificate, key crypto.Signer, serials []*big.Int, now time.Time, expired bool) ([]byte, error) {
	this, next := now.Add(-time.Hour), now.Add(30*24*time.Hour)
	if expired {
		this, next = now.Add(-60*24*time.Hour), now.Add(-30*24*time.Hour)
	}
	tmpl := &x509.RevocationList{Number: big.NewInt(now.Unix()), ThisUpdate: this, NextUpdate: next}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: s, RevocationTime: now.Add(-2 * time.Hour)})
	}
	return x509.CreateRevocationList(rand.Reader, tmpl, issuer, key)
}

// KDS is an in-process fake of AMD's Key Distribution Service: the ARK/ASK
// (vcek/) and ARK/ASVK (vlek/) chains and CRLs per product line, and the
// VCEKs of simulated machines (VLEKs are never served: a CSP provisions them).
type KDS struct {
	// Now is the clock CRLs are issued against (default time.Now).
	Now func() time.Time
	// RevokeASK lists the test ASK in the VCEK CRL (every product line).
	RevokeASK bool
	// RevokeASVK lists the test ASVK in the VLEK CRL (every product line).
	RevokeASVK bool
}

// NewKDS returns a fake KDS with defaults.
func NewKDS() *KDS { return &KDS{} }

// ServeHTTP serves /vcek/v1/{product}/cert_chain, /crl and /{hwid}?...SPL=,
// and /vlek/v1/{product}/cert_chain and /crl.
func (k *KDS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	pk, err := testPKI()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) != 4 || (parts[0] != "vcek" && parts[0] != "vlek") || parts[1] != "v1" {
		http.NotFound(w, r)
		return
	}
	line, vlek := parts[2], parts[0] == "vlek"
	ark, ask := testpki.ARK(line), testpki.ASK(line)
	if ark == nil {
		http.Error(w, "unknown product line "+line, http.StatusNotFound)
		return
	}
	revoke := k.RevokeASK
	if vlek {
		ask, revoke = testpki.ASVK(line), k.RevokeASVK
	}
	switch parts[3] {
	case "cert_chain":
		_ = pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: ask.Raw})
		_ = pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: ark.Raw})
	case "crl":
		var serials []*big.Int
		registry.RLock()
		revoke = revoke || registry.revoked[ask.SerialNumber.Text(16)]
		registry.RUnlock()
		if revoke {
			serials = append(serials, ask.SerialNumber)
		}
		now := time.Now()
		if k.Now != nil {
			now = k.Now()
		}
		amd, err := pk.amdChain(line, false)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		body, err := makeCRL(ark, amd.arkKey, serials, now, false)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(body)
	default:
		if vlek {
			http.NotFound(w, r)
			return
		}
		chip, err := hex.DecodeString(parts[3])
		if err != nil {
			http.Error(w, "bad hwid", http.StatusBadRequest)
			return
		}
		q := r.URL.Query()
		spl := func(name string) uint8 { n, _ := strconv.Atoi(q.Get(name)); return uint8(n) }
		tcb := kds.TCBParts{BlSpl: spl("blSPL"), TeeSpl: spl("teeSPL"), SnpSpl: spl("snpSPL"), UcodeSpl: spl("ucodeSPL")}
		registry.RLock()
		der, ok := registry.vceks[vcekKey(line, chip, tcb)]
		registry.RUnlock()
		if !ok {
			http.Error(w, "no VCEK for this chip and TCB", http.StatusNotFound)
			return
		}
		_, _ = w.Write(der)
	}
}

// getter answers library URL fetches from an in-process handler.
type getter struct{ h http.Handler }

func (g getter) do(u string) (http.Header, []byte, error) {
	req := httptest.NewRequest(http.MethodGet, u, nil)
	rec := httptest.NewRecorder()
	g.h.ServeHTTP(rec, req)
	if rec.Code >= 300 {
		return nil, nil, fmt.Errorf("fetching %s: status %d: %s", u, rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	return rec.Header(), rec.Body.Bytes(), nil
}

// TDXGetter adapts a PCS to go-tdx-guest's trust.HTTPSGetter.
type TDXGetter struct{ Handler http.Handler }

// Get implements go-tdx-guest trust.HTTPSGetter.
func (g TDXGetter) Get(u string) (map[string][]string, []byte, error) {
	h, b, err := getter{g.Handler}.do(u)
	return h, b, err
}

// SNPGetter adapts a KDS to go-sev-guest's trust.HTTPSGetter.
type SNPGetter struct{ Handler http.Handler }

// Get implements go-sev-guest trust.HTTPSGetter.
func (g SNPGetter) Get(u string) ([]byte, error) {
	_, b, err := getter{g.Handler}.do(u)
	return b, err
}

// Handler serves both fakes on one listener, routed by the vendor host
// (requests to other hosts go by path: /vcek/ and /vlek/ to the KDS, the rest to the PCS).
func Handler(pcs *PCS, k *KDS) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Host, "amd.com") || strings.HasPrefix(r.URL.Path, "/vcek/") || strings.HasPrefix(r.URL.Path, "/vlek/") {
			k.ServeHTTP(w, r)
			return
		}
		pcs.ServeHTTP(w, r)
	})
}
