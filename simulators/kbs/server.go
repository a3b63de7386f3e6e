// Package kbs is the simulated platform's Key Broker Service: an
// http.Handler speaking the KBS attestation protocol 0.4.0 as Trustee does
// (attest/kbs holds the messages and the client). Sessions carry a
// crypto/rand nonce and expire; /attest verifies the primary evidence with
// attest/verifier under an attest/policy.Policy, bound to the REPORT_DATA
// of the KBS runtime data; resources are released, JWE-encrypted to the
// session's TEE key, only to sessions whose evidence passed the policy
// (and a resource's own narrower policy, when it has one). Resources are
// put through Trustee's admin API (POST to the resource path with an
// Ed25519-signed admin JWT) or PutResource.
//
// Differences from Trustee, on purpose: the `sample` TEE and TEEs without a
// cctest verifier are refused at /auth; init-data and additional (device)
// evidence are refused; error details name the cause after Trustee's text
// (Trustee's detail for a failed attest stops at "RCAR handshake Attest
// failed"), while the error types and HTTP statuses are Trustee's. SNP
// primary evidence is cctest's byte shape (see attest/kbs.SNPEvidence).
//
// Release and attestation records are kept for tests and diagnostics only:
// a real Trustee exposes neither, so specs must not depend on them.
package kbs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	proto "github.com/cctest/cctest/attest/kbs"
	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/simulators/tee"
)

// Config configures the server. Policy is required.
type Config struct {
	// Policy is the attestation (and default resource) policy.
	Policy *policy.Policy
	// Verifier, default verifier.New(verifier.Options{TestRoots: tee.TestRoots()}).
	Verifier *verifier.Verifier
	// SessionTTL is the cookie's lifetime, default 5 minutes (Trustee's
	// attestation timeout default).
	SessionTTL time.Duration
	// TokenTTL is the attestation token's lifetime, default 5 minutes.
	TokenTTL time.Duration
	// Admin guards the admin API.
	Admin AdminConfig
	// SigningKey signs tokens (ES256); default a fresh P-256 key.
	SigningKey *ecdsa.PrivateKey
	// MaxSessions bounds memory (default 10000; the oldest go first).
	MaxSessions int
	// Faults: kbs-ignores-resource-policy releases resources to any
	// attested session, whatever the appraisal said; kbs-accepts-reused-nonce,
	// kbs-fixed-nonce and kbs-reportdata-unbound break the handshake's
	// freshness and key binding (faults.go).
	Faults faults.Set
	Now    func() time.Time
	Log    func(format string, args ...any)
}

// Server is the KBS. It is an http.Handler.
type Server struct {
	cfg   Config
	admin *admin

	mu        sync.Mutex
	sessions  map[string]*session
	order     []string
	tokens    map[string]*session // token ID → session
	resources map[string]*resource
	releases  []Release
	attests   []Attested
}

type session struct {
	id       string
	tee      string
	nonce    string
	expires  time.Time
	attested bool
	token    string
	tokenID  string
	tokenExp time.Time
	pubKey   proto.TeePubKey
	rd       [64]byte
	evidence verifier.Evidence
	verdict  verifier.Verdict
}

type resource struct {
	data   []byte
	policy *policy.Policy
}

// Release records one resource handed out.
type Release struct {
	Session     string
	Resource    string // repo/type/tag
	TEE         string
	Measurement string
	Policy      string
	At          time.Time
}

// Attested records one /attest outcome.
type Attested struct {
	Session string
	TEE     string
	Status  string // "affirming", "contraindicated", or "refused"
	Reason  string
	Verdict verifier.Verdict
	At      time.Time
}

// New makes a server.
func New(cfg Config) (*Server, error) {
	if cfg.Policy == nil {
		return nil, errors.New("kbs: a policy is required")
	}
	if cfg.Verifier == nil {
		cfg.Verifier = verifier.New(verifier.Options{TestRoots: tee.TestRoots()})
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 5 * time.Minute
	}
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = 5 * time.Minute
	}
	if cfg.MaxSessions == 0 {
		cfg.MaxSessions = 10000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = func(string, ...any) {}
	}
	if cfg.SigningKey == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		cfg.SigningKey = k
	}
	a, err := newAdmin(cfg.Admin, cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("kbs admin: %w", err)
	}
	return &Server{cfg: cfg, admin: a, sessions: map[string]*session{}, tokens: map[string]*session{},
		resources: map[string]*resource{}}, nil
}

// TokenKey is the public key that verifies this KBS's tokens.
func (s *Server) TokenKey() *ecdsa.PublicKey { return &s.cfg.SigningKey.PublicKey }

// PutResource stores a resource, as the admin API does.
func (s *Server) PutResource(repo, typ, tag string, data []byte) error {
	return s.withResource(repo, typ, tag, func(r *resource) { r.data = append([]byte(nil), data...) })
}

// SetResourcePolicy gives a resource its own policy, checked in addition
// to the attestation policy (nil removes it). Trustee does this with a
// Rego resource policy; here it is a narrower cctest policy.
func (s *Server) SetResourcePolicy(repo, typ, tag string, p *policy.Policy) error {
	return s.withResource(repo, typ, tag, func(r *resource) { r.policy = p })
}

// withResource changes a resource under the lock, creating it first.
func (s *Server) withResource(repo, typ, tag string, change func(*resource)) error {
	if _, err := proto.ResourcePath(repo, typ, tag); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := repo + "/" + typ + "/" + tag
	r := s.resources[k]
	if r == nil {
		r = &resource{}
		s.resources[k] = r
	}
	change(r)
	return nil
}

// Releases lists the resources handed out (diagnostics only).
func (s *Server) Releases() []Release {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Release(nil), s.releases...)
}

// Attestations lists /attest outcomes (diagnostics only).
func (s *Server) Attestations() []Attested {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Attested(nil), s.attests...)
}

// ServeHTTP routes /kbs/v0/<plugin>/<path> as Trustee's api() does.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" && r.Method == http.MethodGet {
		w.WriteHeader(http.StatusOK)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, proto.PathPrefix+"/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete:
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	parts := strings.Split(rest, "/")
	plugin, path := parts[0], parts[1:]
	switch {
	case plugin == "auth" && r.Method == http.MethodPost:
		s.auth(w, r)
	case plugin == "attest" && r.Method == http.MethodPost:
		s.attest(w, r)
	case plugin == "resource":
		s.resource(w, r, strings.Join(path, "/"))
	default:
		fail(w, proto.ErrPluginNotFound, fmt.Sprintf("Plugin %s not found", plugin))
	}
}

func fail(w http.ResponseWriter, variant, detail string) {
	body, _ := json.Marshal(proto.ErrorInformation{Type: proto.ErrorType(variant), Detail: detail})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(proto.StatusOf(variant))
	w.Write(body)
}

func authFail(w http.ResponseWriter, why string) {
	fail(w, proto.ErrAttestationError, "Attestation error: RCAR handshake Auth failed: "+why)
}

func attestFail(w http.ResponseWriter, why string) {
	fail(w, proto.ErrAttestationError, "Attestation error: RCAR handshake Attest failed: "+why)
}

const maxBody = 8 << 20

func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("request body over %d bytes", maxBody)
	}
	return b, nil
}

var semver = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// verifiable are the kbs-types TEEs with a cctest verifier.
var verifiable = []string{proto.TeeTDX, proto.TeeSNP}

func (s *Server) auth(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		authFail(w, "deserialize Request: "+err.Error())
		return
	}
	var req proto.Request
	if err := json.Unmarshal(body, &req); err != nil {
		authFail(w, "deserialize Request: "+err.Error())
		return
	}
	if req.Version == "" || req.ExtraParams == nil {
		authFail(w, `deserialize Request: want {"version", "tee", "extra-params"}`)
		return
	}
	if !proto.IsKnownTee(req.Tee) {
		authFail(w, fmt.Sprintf("deserialize Request: unknown tee %q (kbs-types knows %s)", req.Tee, strings.Join(proto.KnownTees(), ", ")))
		return
	}
	m := semver.FindStringSubmatch(req.Version)
	if m == nil {
		authFail(w, fmt.Sprintf("failed to parse KBS version %q", req.Version))
		return
	}
	if m[1]+"."+m[2]+"."+m[3] != proto.ProtocolVersion || m[4] != "" {
		authFail(w, fmt.Sprintf("KBS Client Protocol Version Mismatch: expect =%s while the request is %s", proto.ProtocolVersion, req.Version))
		return
	}
	if req.Tee == proto.TeeSample || req.Tee == proto.TeeSampleDevice {
		authFail(w, fmt.Sprintf("tee %q is refused: it is a test attester with no hardware root of trust", req.Tee))
		return
	}
	if !contains(verifiable, req.Tee) {
		authFail(w, fmt.Sprintf("tee %q is not supported by this KBS (it verifies %s)", req.Tee, strings.Join(verifiable, " and ")))
		return
	}
	nonce := make([]byte, 32)
	id := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		authFail(w, err.Error())
		return
	}
	if s.cfg.Faults.Has(FaultFixedNonce) {
		nonce = fixedNonce[:]
	}
	rand.Read(id)
	now := s.cfg.Now()
	sess := &session{id: hex.EncodeToString(id), tee: req.Tee, nonce: stdB64(nonce), expires: now.Add(s.cfg.SessionTTL)}
	s.mu.Lock()
	s.sessions[sess.id] = sess
	s.order = append(s.order, sess.id)
	for len(s.order) > s.cfg.MaxSessions {
		old := s.sessions[s.order[0]]
		if old != nil && old.tokenID != "" {
			delete(s.tokens, old.tokenID)
		}
		delete(s.sessions, s.order[0])
		s.order = s.order[1:]
	}
	s.mu.Unlock()
	setCookie(w, sess)
	writeJSON(w, proto.Challenge{Nonce: sess.nonce, ExtraParams: json.RawMessage(`""`)})
}

// fixedNonce is the kbs-fixed-nonce fault's one nonce for every session.
var fixedNonce = sha256.Sum256([]byte("cctest kbs-fixed-nonce"))

// setCookie writes Trustee's cookie: name, value and Expires, no Path.
func setCookie(w http.ResponseWriter, sess *session) {
	w.Header().Add("Set-Cookie", (&http.Cookie{Name: proto.CookieName, Value: sess.id, Expires: sess.expires}).String())
}

func writeJSON(w http.ResponseWriter, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// lookup finds the session of the request's cookie; why says what is wrong.
func (s *Server) lookup(r *http.Request) (*session, string) {
	ck, err := r.Cookie(proto.CookieName)
	if err != nil {
		return nil, "cookie not found"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessions[ck.Value]
	if sess == nil {
		return nil, "session not found"
	}
	if s.cfg.Now().After(sess.expires) {
		return nil, "session expired."
	}
	return sess, ""
}

// integrity are the verifier checks whose failure means the evidence is not
// genuine or not fresh: Trustee's verifiers fail /attest on those. Other
// failures (measurements, TCB, debug, ...) are appraisal: Trustee issues a
// token whose EAR status is not affirming and the resource policy denies.
var integrity = []string{"parse", "azure-parse", "verify", "signing-key", "nonce", "runtime-data-binding",
	"tpm-quote", "tpm-quote-signature", "policy"}

func (s *Server) attest(w http.ResponseWriter, r *http.Request) {
	sess, why := s.lookup(r)
	if sess == nil {
		attestFail(w, why)
		return
	}
	body, err := readBody(r)
	if err != nil {
		attestFail(w, "deserialize Attestation: "+err.Error())
		return
	}
	var att proto.Attestation
	if err := json.Unmarshal(body, &att); err != nil {
		attestFail(w, "deserialize Attestation: "+err.Error())
		return
	}
	s.mu.Lock()
	attested, token := sess.attested, sess.token
	s.mu.Unlock()
	if attested {
		// Trustee returns the session's token again.
		setCookie(w, sess)
		writeJSON(w, proto.AttestationToken{Token: token})
		return
	}
	nonce := sess.nonce
	if s.cfg.Faults.Has(FaultAcceptsReusedNonce) {
		nonce = att.RuntimeData.Nonce // whatever the client says it was challenged with
	}
	if att.RuntimeData.Nonce != nonce {
		attestFail(w, "the nonce in the handshake session is different from the client side in KBS protocol's Attestation message")
		return
	}
	if err := att.RuntimeData.TeePubKey.Validate(); err != nil {
		attestFail(w, "deserialize Attestation: "+err.Error())
		return
	}
	if len(att.TeeEvidence.PrimaryEvidence) == 0 {
		attestFail(w, "deserialize Attestation: tee-evidence.primary_evidence is missing")
		return
	}
	if att.TeeEvidence.AdditionalEvidence != "" {
		attestFail(w, "additional_evidence (device evidence) is not supported by this KBS; send \"\"")
		return
	}
	if att.InitData != nil {
		attestFail(w, "init-data is not supported by this KBS (it cannot check it against HOST_DATA / MRCONFIGID)")
		return
	}
	ev, err := proto.EvidenceFromPrimary(sess.tee, att.TeeEvidence.PrimaryEvidence)
	if err != nil {
		s.record(sess, "refused", err.Error(), verifier.Verdict{})
		attestFail(w, "verify TEE evidence failed: "+err.Error())
		return
	}
	rd := proto.ReportData(nonce, att.RuntimeData.TeePubKey, "")
	vd := s.cfg.Verifier.Verify(ev, s.cfg.Policy, rd[:])
	if s.cfg.Faults.Has(FaultReportDataUnbound) {
		// The evidence's own REPORT_DATA is taken as the expected one.
		if own, err := hex.DecodeString(vd.ReportData); err == nil && len(own) == len(rd) {
			copy(rd[:], own)
			vd = s.cfg.Verifier.Verify(ev, s.cfg.Policy, rd[:])
		}
	}
	if !vd.Pass && failedIntegrity(vd) {
		s.record(sess, "refused", vd.Reason, vd)
		s.cfg.Log("kbs: session %s: attest refused: %s", sess.id, vd.Reason)
		attestFail(w, "verify TEE evidence failed: "+vd.Reason)
		return
	}
	status := "affirming"
	if !vd.Pass {
		status = "contraindicated"
	}
	now := s.cfg.Now()
	tokID := make([]byte, 16)
	rand.Read(tokID)
	tok, err := s.token(hex.EncodeToString(tokID), status, sess, att.RuntimeData.TeePubKey, vd, now)
	if err != nil {
		attestFail(w, "sign token: "+err.Error())
		return
	}
	s.mu.Lock()
	sess.attested, sess.token, sess.tokenID, sess.tokenExp = true, tok, hex.EncodeToString(tokID), now.Add(s.cfg.TokenTTL)
	sess.pubKey, sess.rd, sess.evidence, sess.verdict = att.RuntimeData.TeePubKey, rd, ev, vd
	s.tokens[sess.tokenID] = sess
	s.mu.Unlock()
	s.record(sess, status, vd.Reason, vd)
	s.cfg.Log("kbs: session %s: %s %s", sess.id, status, vd.Reason)
	setCookie(w, sess)
	writeJSON(w, proto.AttestationToken{Token: tok})
}

func failedIntegrity(vd verifier.Verdict) bool {
	for _, c := range vd.Checks {
		if !c.Pass && contains(integrity, c.Name) {
			return true
		}
	}
	return false
}

func (s *Server) record(sess *session, status, reason string, vd verifier.Verdict) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attests = append(s.attests, Attested{Session: sess.id, TEE: sess.tee, Status: status, Reason: reason, Verdict: vd, At: s.cfg.Now()})
	if len(s.attests) > s.cfg.MaxSessions {
		s.attests = s.attests[1:]
	}
}

// token is an EAR-shaped JWT (Trustee's CoCo AS issues EAR tokens), ES256
// with the verification key in the header's jwk, the TEE public key at
// /submods/cpu0/ear.veraison.annotated-evidence/runtime_data_claims/tee-pubkey
// (Trustee's TOKEN_TEE_PUBKEY_PATH_EAR).
func (s *Server) token(id, status string, sess *session, pub proto.TeePubKey, vd verifier.Verdict, now time.Time) (string, error) {
	claims := map[string]any{
		"eat_profile":     "tag:github.com,2023:veraison/ear",
		"iat":             now.Unix(),
		"exp":             now.Add(s.cfg.TokenTTL).Unix(),
		"jti":             id,
		"ear.verifier-id": map[string]string{"developer": "https://cctest.dev", "build": "cctest simulators/kbs"},
		"submods": map[string]any{"cpu0": map[string]any{
			"ear.status": status,
			"ear.veraison.annotated-evidence": map[string]any{
				"tee":         sess.tee,
				"measurement": vd.Measurement,
				"tcb":         vd.TCB,
				"report_data": hex.EncodeToString(sess.rdFor(pub)),
				"runtime_data_claims": map[string]any{
					"nonce": sess.nonce, "tee-pubkey": pub, "additional-evidence": "",
				},
			},
			"ear.veraison.policy-claims": map[string]any{"policy": vd.Policy, "pass": vd.Pass, "reason": vd.Reason,
				"matched-image": vd.MatchedImage},
		}},
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: s.cfg.SigningKey},
		(&jose.SignerOptions{EmbedJWK: true}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

func (sess *session) rdFor(pub proto.TeePubKey) []byte {
	rd := proto.ReportData(sess.nonce, pub, "")
	return rd[:]
}

// bearer finds the session of an Authorization: Bearer token this KBS
// issued.
func (s *Server) bearer(r *http.Request) (*session, string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, "", false
	}
	jws, err := jose.ParseSigned(strings.TrimSpace(tok), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, "the bearer token is not an ES256 JWS: " + err.Error(), true
	}
	payload, err := jws.Verify(s.TokenKey())
	if err != nil {
		return nil, "the bearer token is not signed by this KBS", true
	}
	var c struct {
		Jti string `json:"jti"`
		Exp int64  `json:"exp"`
	}
	if json.Unmarshal(payload, &c) != nil || c.Jti == "" {
		return nil, "the bearer token has no jti", true
	}
	if s.cfg.Now().Unix() > c.Exp {
		return nil, "the bearer token expired", true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.tokens[c.Jti]
	if sess == nil {
		return nil, "the bearer token's attestation is no longer kept", true
	}
	return sess, "", true
}

func (s *Server) resource(w http.ResponseWriter, r *http.Request, path string) {
	if r.Method == http.MethodPost || r.Method == http.MethodDelete {
		if why := s.admin.check(r); why != "" {
			// Trustee converts the admin error through From<admin::Error>,
			// which is the AdminAuthInitialization variant.
			fail(w, proto.ErrAdminAuthInitialization, "failed to initialize [admin] configuration: "+why)
			return
		}
		s.adminResource(w, r, path)
		return
	}
	if r.Method != http.MethodGet {
		fail(w, proto.ErrPluginInternalError, "Plugin internal error: Illegal HTTP method. Only supports `GET`, `POST` and `DELETE`")
		return
	}
	sess, why := s.lookup(r)
	if sess != nil && !sess.attested {
		sess, why = nil, "The session is not authorized (POST /kbs/v0/attest first)"
	}
	if sess == nil {
		bs, bwhy, had := s.bearer(r)
		switch {
		case had && bs == nil:
			fail(w, proto.ErrTokenVerifierError, "Token Verifier error: "+bwhy)
			return
		case had:
			sess = bs
		default:
			if why == "cookie not found" {
				why = "no " + proto.CookieName + " cookie and no bearer token"
			}
			fail(w, proto.ErrTokenNotFound, "Attestation Token not found: "+why)
			return
		}
	}
	s.mu.Lock()
	res := s.resources[path]
	var data []byte
	var rp *policy.Policy
	if res != nil {
		data, rp = res.data, res.policy
	}
	vd, ev, rd, pub := sess.verdict, sess.evidence, sess.rd, sess.pubKey
	s.mu.Unlock()
	if !vd.Pass && !s.cfg.Faults.Has(FaultIgnoresResourcePolicy) {
		fail(w, proto.ErrPolicyDeny, "Access denied by policy: the attestation did not pass policy "+vd.Policy+": "+vd.Reason)
		return
	}
	if rp != nil && !s.cfg.Faults.Has(FaultIgnoresResourcePolicy) {
		rv := s.cfg.Verifier.Verify(ev, rp, rd[:])
		if !rv.Pass {
			fail(w, proto.ErrPolicyDeny, fmt.Sprintf("Access denied by policy: resource %s requires policy %s: %s", path, rp.Name, rv.Reason))
			return
		}
	}
	parts := strings.Split(path, "/")
	if len(parts) != 3 || !proto.ValidResourcePart(parts[0]) || !proto.ValidResourcePart(parts[1]) || !proto.ValidResourcePart(parts[2]) {
		fail(w, proto.ErrPluginInternalError, "Plugin internal error: illegal ResourceDesc format.")
		return
	}
	if data == nil {
		fail(w, proto.ErrPluginInternalError, "Plugin internal error: resource not found: "+path)
		return
	}
	resp, err := proto.Encrypt(pub, data)
	if err != nil {
		fail(w, proto.ErrJweError, "JWE failed: "+err.Error())
		return
	}
	pol := vd.Policy
	if rp != nil {
		pol += "+" + rp.Name
	}
	s.mu.Lock()
	s.releases = append(s.releases, Release{Session: sess.id, Resource: path, TEE: sess.tee, Measurement: vd.Measurement,
		Policy: pol, At: s.cfg.Now()})
	s.mu.Unlock()
	s.cfg.Log("kbs: released %s to session %s", path, sess.id)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(resp.Marshal())
}

func (s *Server) adminResource(w http.ResponseWriter, r *http.Request, path string) {
	parts := strings.Split(path, "/")
	if len(parts) != 3 || !proto.ValidResourcePart(parts[0]) || !proto.ValidResourcePart(parts[1]) || !proto.ValidResourcePart(parts[2]) {
		fail(w, proto.ErrPluginInternalError, "Plugin internal error: illegal ResourceDesc format.")
		return
	}
	if r.Method == http.MethodDelete {
		s.mu.Lock()
		res := s.resources[path]
		found := res != nil && res.data != nil
		if found {
			res.data = nil
		}
		s.mu.Unlock()
		if !found {
			fail(w, proto.ErrPluginInternalError, "Plugin internal error: resource not found: "+path)
			return
		}
	} else {
		body, err := readBody(r)
		if err != nil {
			fail(w, proto.ErrPluginInternalError, "Plugin internal error: "+err.Error())
			return
		}
		if err := s.PutResource(parts[0], parts[1], parts[2], body); err != nil {
			fail(w, proto.ErrPluginInternalError, "Plugin internal error: "+err.Error())
			return
		}
	}
	// Trustee answers plugin admin calls 200 with an empty text/xml body.
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func stdB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
