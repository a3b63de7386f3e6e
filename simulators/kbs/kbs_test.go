package kbs

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	proto "github.com/cctest/cctest/attest/kbs"
	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/internal/testpolicy"
	"github.com/cctest/cctest/simulators/tee"
	"github.com/cctest/cctest/simulators/tee/simdevice"
)

var (
	tdxMachine = tee.NewTDXMachine(tee.TDXOptions{Name: "kbs-tdx"})
	snpMachine = tee.MustNewSNPMachine(tee.SNPOptions{Name: "kbs-snp"})
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	srv      *Server
	ts       *httptest.Server
	ca       []byte
	clock    *clock
	adminKey ed25519.PrivateKey
}

func start(t *testing.T, cfg Config) *fixture {
	t.Helper()
	if cfg.Policy == nil {
		cfg.Policy = testpolicy.Platform(t)
	}
	f := &fixture{clock: &clock{t: time.Now()}}
	if cfg.Now == nil {
		cfg.Now = f.clock.now
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	f.adminKey = priv
	if cfg.Admin.PublicKey == nil {
		cfg.Admin.PublicKey = pub
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = s
	f.ts = httptest.NewTLSServer(s) // 127.0.0.1
	t.Cleanup(f.ts.Close)
	f.ca = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.ts.Certificate().Raw})
	return f
}

func (f *fixture) client(t *testing.T) *proto.Client {
	t.Helper()
	c, err := proto.New(f.ts.URL, proto.Options{CAPEM: f.ca})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// evidenceOf answers with the machine's evidence for the report data, as
// a guest's attester would.
func evidenceOf(m tee.Machine) proto.EvidenceFunc {
	return func(rd [64]byte) (json.RawMessage, error) {
		ev, err := simdevice.New(m).Evidence(rd)
		if err != nil {
			return nil, err
		}
		return proto.PrimaryEvidence(ev)
	}
}

func kbsTee(t *testing.T, m tee.Machine) string {
	k, err := proto.KBSTee(m.TEE())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func wantErr(t *testing.T, err error, status int, variant, detail string) {
	t.Helper()
	e, ok := err.(*proto.Error)
	if !ok {
		t.Fatalf("want a KBS refusal %s, got %v", variant, err)
	}
	if e.Status != status || e.Variant() != variant || !strings.Contains(e.Info.Detail, detail) {
		t.Fatalf("want HTTP %d %s containing %q, got %v", status, variant, detail, err)
	}
}

func TestTDXAndSNPAttestAndGetTheResource(t *testing.T) {
	f := start(t, Config{})
	if err := f.srv.PutResource("default", "key", "disk", []byte("s3cr3t")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, m := range []tee.Machine{tdxMachine, snpMachine} {
		t.Run(m.TEE(), func(t *testing.T) {
			c := f.client(t)
			ch, err := c.Auth(ctx, kbsTee(t, m))
			if err != nil {
				t.Fatal(err)
			}
			if n, err := base64.StdEncoding.DecodeString(ch.Nonce); err != nil || len(n) != 32 {
				t.Fatalf("nonce %q: want 32 bytes in standard base64", ch.Nonce)
			}
			if string(ch.ExtraParams) != `""` {
				t.Errorf("extra-params %s, Trustee sends \"\"", ch.ExtraParams)
			}
			tok, err := c.Attest(ctx, evidenceOf(m))
			if err != nil {
				t.Fatal(err)
			}
			claims := tokenClaims(t, tok)
			sub := claims["submods"].(map[string]any)["cpu0"].(map[string]any)
			if sub["ear.status"] != "affirming" {
				t.Errorf("ear.status %v", sub["ear.status"])
			}
			pk := sub["ear.veraison.annotated-evidence"].(map[string]any)["runtime_data_claims"].(map[string]any)["tee-pubkey"].(map[string]any)
			if pk["x"] != c.PublicKey().X {
				t.Errorf("token carries tee-pubkey %v, want the client's", pk)
			}
			got, err := c.Resource(ctx, "default", "key", "disk")
			if err != nil || string(got) != "s3cr3t" {
				t.Fatalf("resource %q %v", got, err)
			}
		})
	}
	if r := f.srv.Releases(); len(r) != 2 || r[0].Resource != "default/key/disk" || r[0].Measurement == "" {
		t.Errorf("releases %+v", r)
	}
}

func tokenClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["exp"] == nil || m["iat"] == nil {
		t.Errorf("token without exp/iat: %v", m)
	}
	return m
}

// post sends raw bodies, for requests the client never makes.
func (f *fixture) post(t *testing.T, path, body string, cookie *http.Cookie, hdr map[string]string) (int, proto.ErrorInformation, *http.Response) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.ts.URL+path, strings.NewReader(body))
	if cookie != nil {
		req.AddCookie(cookie)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var info proto.ErrorInformation
	_ = json.Unmarshal(b, &info)
	return resp.StatusCode, info, resp
}

// The version-mismatch refusal is Trustee's, byte for byte (golden in
// attest/kbs/testdata/exchange.json).
func TestAuthRefusesOtherVersionsUnknownAndSampleTEEs(t *testing.T) {
	f := start(t, Config{})
	status, info, _ := f.post(t, proto.PathAuth, `{"version":"0.3.0","tee":"tdx","extra-params":""}`, nil, nil)
	got, _ := json.Marshal(info)
	const golden = `{"type":"https://github.com/confidential-containers/kbs/errors/AttestationError","detail":"Attestation error: RCAR handshake Auth failed: KBS Client Protocol Version Mismatch: expect =0.4.0 while the request is 0.3.0"}`
	if status != 401 || string(got) != golden {
		t.Errorf("version 0.3.0: %d %s", status, got)
	}
	for _, c := range []struct{ body, detail string }{
		{`{"version":"0.4.0-rc1","tee":"tdx","extra-params":""}`, "Version Mismatch"},
		{`{"version":"zero","tee":"tdx","extra-params":""}`, "failed to parse KBS version"},
		{`{"version":"0.4.0","tee":"quantum","extra-params":""}`, `unknown tee "quantum"`},
		{`{"version":"0.4.0","tee":"sample","extra-params":""}`, `tee "sample" is refused`},
		{`{"version":"0.4.0","tee":"sgx","extra-params":""}`, `tee "sgx" is not supported`},
		{`{"version":"0.4.0"`, "deserialize Request"},
	} {
		status, info, resp := f.post(t, proto.PathAuth, c.body, nil, nil)
		if status != 401 || info.Type != proto.ErrorType(proto.ErrAttestationError) || !strings.Contains(info.Detail, c.detail) {
			t.Errorf("%s: %d %+v, want 401 naming %q", c.body, status, info, c.detail)
		}
		if len(resp.Cookies()) != 0 {
			t.Errorf("%s: a refused auth set a cookie", c.body)
		}
	}
	// The client refuses the sample TEE through the same path.
	_, err := f.client(t).Auth(context.Background(), proto.TeeSample)
	wantErr(t, err, 401, proto.ErrAttestationError, "sample")
}

func TestAttestRefusals(t *testing.T) {
	f := start(t, Config{SessionTTL: time.Minute})
	ctx := context.Background()

	t.Run("no cookie", func(t *testing.T) {
		status, info, _ := f.post(t, proto.PathAttest, `{}`, nil, nil)
		if status != 401 || !strings.Contains(info.Detail, "cookie not found") {
			t.Errorf("%d %+v", status, info)
		}
	})
	t.Run("unknown session", func(t *testing.T) {
		status, info, _ := f.post(t, proto.PathAttest, `{}`, &http.Cookie{Name: proto.CookieName, Value: "nope"}, nil)
		if status != 401 || !strings.Contains(info.Detail, "session not found") {
			t.Errorf("%d %+v", status, info)
		}
	})
	t.Run("wrong nonce", func(t *testing.T) {
		c := f.client(t)
		ch, err := c.Auth(ctx, proto.TeeTDX)
		if err != nil {
			t.Fatal(err)
		}
		// A second client's session, answered with the first one's nonce.
		c2 := f.client(t)
		if _, err := c2.Auth(ctx, proto.TeeTDX); err != nil {
			t.Fatal(err)
		}
		cookie := sessionCookie(t, f, c2)
		body, _ := json.Marshal(proto.Attestation{RuntimeData: proto.RuntimeData{Nonce: ch.Nonce, TeePubKey: c.PublicKey()},
			TeeEvidence: proto.CompositeEvidence{PrimaryEvidence: json.RawMessage(`{"cc_eventlog":null,"quote":"AA=="}`)}})
		status, info, _ := f.post(t, proto.PathAttest, string(body), cookie, nil)
		if status != 401 || !strings.Contains(info.Detail, "the nonce in the handshake session is different") {
			t.Errorf("%d %+v", status, info)
		}
	})
	t.Run("REPORT_DATA not bound to the key", func(t *testing.T) {
		c := f.client(t)
		if _, err := c.Auth(ctx, proto.TeeTDX); err != nil {
			t.Fatal(err)
		}
		_, err := c.Attest(ctx, func(rd [64]byte) (json.RawMessage, error) {
			rd[0] ^= 1 // evidence for another binding (another key, another nonce)
			return evidenceOf(tdxMachine)(rd)
		})
		wantErr(t, err, 401, proto.ErrAttestationError, "nonce")
	})
	t.Run("replayed evidence", func(t *testing.T) {
		m := tee.NewTDXMachine(tee.TDXOptions{Name: "kbs-replay", Faults: []tee.Fault{tee.FaultReplay}})
		_, _ = simdevice.New(m).Evidence([64]byte{1})
		c := f.client(t)
		if _, err := c.Auth(ctx, proto.TeeTDX); err != nil {
			t.Fatal(err)
		}
		_, err := c.Attest(ctx, evidenceOf(m))
		wantErr(t, err, 401, proto.ErrAttestationError, "verify TEE evidence failed")
	})
	t.Run("tampered quote", func(t *testing.T) {
		m := tee.NewTDXMachine(tee.TDXOptions{Name: "kbs-tampered", Faults: []tee.Fault{tee.FaultTampered}})
		c := f.client(t)
		if _, err := c.Auth(ctx, proto.TeeTDX); err != nil {
			t.Fatal(err)
		}
		_, err := c.Attest(ctx, evidenceOf(m))
		wantErr(t, err, 401, proto.ErrAttestationError, "verify TEE evidence failed")
	})
	t.Run("evidence of another TEE", func(t *testing.T) {
		c := f.client(t)
		if _, err := c.Auth(ctx, proto.TeeSNP); err != nil {
			t.Fatal(err)
		}
		_, err := c.Attest(ctx, evidenceOf(tdxMachine))
		wantErr(t, err, 401, proto.ErrAttestationError, "snp primary_evidence")
	})
	t.Run("expired session", func(t *testing.T) {
		c := f.client(t)
		if _, err := c.Auth(ctx, proto.TeeTDX); err != nil {
			t.Fatal(err)
		}
		f.clock.add(2 * time.Minute)
		_, err := c.Attest(ctx, evidenceOf(tdxMachine))
		wantErr(t, err, 401, proto.ErrAttestationError, "session expired")
	})
}

// sessionCookie redoes the client's last auth cookie via a fresh auth: the
// client keeps its cookie private, so tests take it from a raw auth.
func sessionCookie(t *testing.T, f *fixture, _ *proto.Client) *http.Cookie {
	t.Helper()
	_, _, resp := f.post(t, proto.PathAuth, `{"version":"0.4.0","tee":"tdx","extra-params":""}`, nil, nil)
	for _, c := range resp.Cookies() {
		if c.Name == proto.CookieName {
			if c.Expires.IsZero() || c.Path != "" {
				t.Errorf("cookie %v: Trustee sets Expires and no Path", c)
			}
			return c
		}
	}
	t.Fatal("auth set no cookie")
	return nil
}

func TestResourceRefusals(t *testing.T) {
	f := start(t, Config{SessionTTL: time.Minute})
	f.srv.PutResource("default", "key", "disk", []byte("s3cr3t"))
	ctx := context.Background()

	t.Run("no cookie", func(t *testing.T) {
		resp, err := f.ts.Client().Get(f.ts.URL + "/kbs/v0/resource/default/key/disk")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.Contains(string(b), "TokenNotFound") {
			t.Errorf("%d %s", resp.StatusCode, b)
		}
	})
	t.Run("before attest", func(t *testing.T) {
		c := f.client(t)
		if _, err := c.Auth(ctx, proto.TeeTDX); err != nil {
			t.Fatal(err)
		}
		_, err := c.Resource(ctx, "default", "key", "disk")
		wantErr(t, err, 401, proto.ErrTokenNotFound, "not authorized")
	})
	for _, fault := range []tee.Fault{tee.FaultDebug, tee.FaultWrongMeasurement} {
		t.Run("policy fails: "+string(fault), func(t *testing.T) {
			m := tee.NewTDXMachine(tee.TDXOptions{Name: "kbs-" + string(fault), Faults: []tee.Fault{fault}})
			c := f.client(t)
			if _, err := c.Auth(ctx, proto.TeeTDX); err != nil {
				t.Fatal(err)
			}
			tok, err := c.Attest(ctx, evidenceOf(m))
			if err != nil {
				t.Fatalf("appraisal failures get a token, as with Trustee: %v", err)
			}
			if s := tokenClaims(t, tok)["submods"].(map[string]any)["cpu0"].(map[string]any)["ear.status"]; s != "contraindicated" {
				t.Errorf("ear.status %v", s)
			}
			_, err = c.Resource(ctx, "default", "key", "disk")
			wantErr(t, err, 401, proto.ErrPolicyDeny, "did not pass policy")
		})
	}
	t.Run("SNP debug", func(t *testing.T) {
		m := tee.MustNewSNPMachine(tee.SNPOptions{Name: "kbs-snp-debug", Faults: []tee.Fault{tee.FaultDebug}})
		c := f.client(t)
		if _, err := c.Auth(ctx, proto.TeeSNP); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Attest(ctx, evidenceOf(m)); err == nil {
			_, err = c.Resource(ctx, "default", "key", "disk")
			wantErr(t, err, 401, proto.ErrPolicyDeny, "debug")
		} else {
			wantErr(t, err, 401, proto.ErrAttestationError, "debug")
		}
	})
	t.Run("missing resource and bad path", func(t *testing.T) {
		c := f.client(t)
		c.Auth(ctx, proto.TeeTDX)
		if _, err := c.Attest(ctx, evidenceOf(tdxMachine)); err != nil {
			t.Fatal(err)
		}
		_, err := c.Resource(ctx, "default", "key", "nothing")
		wantErr(t, err, 401, proto.ErrPluginInternalError, "resource not found: default/key/nothing")
	})
	t.Run("narrower resource policy", func(t *testing.T) {
		narrow := *testpolicy.Platform(t)
		narrow.Name = "only-other-image"
		td := *narrow.TDX
		td.AllowedMeasurements = append([]policy.TDXMeasurement(nil), td.AllowedMeasurements...)
		td.AllowedMeasurements[0].MRTD = strings.Repeat("ab", 48)
		narrow.TDX = &td
		f.srv.PutResource("default", "key", "narrow", []byte("x"))
		f.srv.SetResourcePolicy("default", "key", "narrow", &narrow)
		c := f.client(t)
		c.Auth(ctx, proto.TeeTDX)
		if _, err := c.Attest(ctx, evidenceOf(tdxMachine)); err != nil {
			t.Fatal(err)
		}
		_, err := c.Resource(ctx, "default", "key", "narrow")
		wantErr(t, err, 401, proto.ErrPolicyDeny, "requires policy only-other-image")
		if got, err := c.Resource(ctx, "default", "key", "disk"); err != nil || string(got) != "s3cr3t" {
			t.Errorf("the default-policy resource: %q %v", got, err)
		}
	})
	t.Run("expired session", func(t *testing.T) {
		c := f.client(t)
		c.Auth(ctx, proto.TeeTDX)
		if _, err := c.Attest(ctx, evidenceOf(tdxMachine)); err != nil {
			t.Fatal(err)
		}
		f.clock.add(2 * time.Minute)
		_, err := c.Resource(ctx, "default", "key", "disk")
		wantErr(t, err, 401, proto.ErrTokenNotFound, "session expired")
	})
	t.Run("unknown plugin", func(t *testing.T) {
		resp, _ := f.ts.Client().Get(f.ts.URL + "/kbs/v0/nosuch/x")
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 404 || !strings.Contains(string(b), "Plugin nosuch not found") {
			t.Errorf("%d %s", resp.StatusCode, b)
		}
	})
}

func TestBearerTokenFetchesTheResource(t *testing.T) {
	f := start(t, Config{})
	f.srv.PutResource("default", "key", "disk", []byte("s3cr3t"))
	ctx := context.Background()
	c := f.client(t)
	c.Auth(ctx, proto.TeeTDX)
	tok, err := c.Attest(ctx, evidenceOf(tdxMachine))
	if err != nil {
		t.Fatal(err)
	}
	get := func(bearer string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, f.ts.URL+"/kbs/v0/resource/default/key/disk", nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := f.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	if resp, b := get(tok); resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"protected"`)) {
		t.Errorf("bearer: %d %s", resp.StatusCode, b)
	}
	forged := tok[:len(tok)-4] + "AAAA"
	if resp, b := get(forged); resp.StatusCode != 401 || !bytes.Contains(b, []byte("TokenVerifierError")) {
		t.Errorf("forged bearer: %d %s", resp.StatusCode, b)
	}
}

func TestAdminAPI(t *testing.T) {
	f := start(t, Config{})
	now := f.clock.now()
	good := AdminToken(f.adminKey, AdminRole, time.Hour, now)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	path := "/kbs/v0/resource/default/key/posted"
	for _, c := range []struct {
		name, auth, detail string
	}{
		{"no header", "", "Failed to parse HTTP Auth Bearer header"},
		{"other key", "Bearer " + AdminToken(otherKey, AdminRole, time.Hour, now), "signature does not verify"},
		{"expired", "Bearer " + AdminToken(f.adminKey, AdminRole, -2*time.Minute, now), "ExpiredSignature"},
		{"wrong role", "Bearer " + AdminToken(f.adminKey, "reader", time.Hour, now), "Role reader not allowed for path " + path},
		{"not EdDSA", "Bearer " + b64(`{"alg":"none"}`) + "." + b64(`{"role":"kbs-admin"}`) + ".", `alg "none"`},
	} {
		hdr := map[string]string{}
		if c.auth != "" {
			hdr["Authorization"] = c.auth
		}
		status, info, _ := f.post(t, path, "data", nil, hdr)
		if status != 401 || info.Type != proto.ErrorType(proto.ErrAdminAuthInitialization) || !strings.Contains(info.Detail, c.detail) {
			t.Errorf("%s: %d %+v, want 401 naming %q", c.name, status, info, c.detail)
		}
	}
	status, info, resp := f.post(t, path, "posted by admin", nil, map[string]string{"Authorization": "Bearer " + good})
	if status != 200 {
		t.Fatalf("good admin token: %d %+v", status, info)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/xml" {
		t.Errorf("content type %q (Trustee answers plugin admin calls as text/xml)", ct)
	}
	c := f.client(t)
	ctx := context.Background()
	c.Auth(ctx, proto.TeeSNP)
	if _, err := c.Attest(ctx, evidenceOf(snpMachine)); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Resource(ctx, "default", "key", "posted"); err != nil || string(got) != "posted by admin" {
		t.Fatalf("%q %v", got, err)
	}
	// DenyAll when no admin key is configured.
	s, _ := New(Config{Policy: testpolicy.Platform(t)})
	s.admin.cfg.PublicKey = nil
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader("x"))
	req.Header.Set("Authorization", "Bearer "+good)
	s.ServeHTTP(rec, req)
	if rec.Code != 401 || !strings.Contains(rec.Body.String(), "DenyAll") {
		t.Errorf("no admin key: %d %s", rec.Code, rec.Body)
	}
}

// The handshake battery a KBS client outside the guest runs (the spec's):
// two sessions get different nonces; evidence bound to session A's nonce
// and key passes only with that key, only in session A; a session whose
// attestation was refused gets no resource. Each handshake fault lets
// exactly its variant through.
func TestHandshakeBattery(t *testing.T) {
	ctx := context.Background()
	type outcome struct{ sameNonce, otherKeyPassed, replayPassed, refusedGotResource bool }
	run := func(t *testing.T, fs faults.Set) outcome {
		f := start(t, Config{Faults: fs})
		if err := f.srv.PutResource("cctest", "battery", "secret", []byte("s3cr3t")); err != nil {
			t.Fatal(err)
		}
		var o outcome
		a, b, c := f.client(t), f.client(t), f.client(t)
		chA, err := a.Auth(ctx, proto.TeeTDX)
		if err != nil {
			t.Fatal(err)
		}
		chB, err := b.Auth(ctx, proto.TeeTDX)
		if err != nil {
			t.Fatal(err)
		}
		o.sameNonce = chA.Nonce == chB.Nonce
		rd, err := a.ReportData()
		if err != nil {
			t.Fatal(err)
		}
		if rd != proto.ReportData(chA.Nonce, a.PublicKey(), "") {
			t.Fatal("ReportData is not the protocol's REPORT_DATA of the challenge")
		}
		primary, err := evidenceOf(tdxMachine)(rd)
		if err != nil {
			t.Fatal(err)
		}
		genuine := proto.Attestation{RuntimeData: proto.RuntimeData{Nonce: chA.Nonce, TeePubKey: a.PublicKey()},
			TeeEvidence: proto.CompositeEvidence{PrimaryEvidence: primary}}
		otherKey := genuine
		otherKey.RuntimeData.TeePubKey = b.PublicKey()
		_, err = a.PostAttestation(ctx, otherKey)
		o.otherKeyPassed = err == nil
		if !o.otherKeyPassed {
			wantErr(t, err, 401, proto.ErrAttestationError, "REPORT_DATA")
			// Trustee keeps a session whose attestation failed: the
			// genuine one still passes in it.
			if _, err := a.PostAttestation(ctx, genuine); err != nil {
				t.Fatalf("genuine after the refused variant: %v", err)
			}
			got, err := a.Resource(ctx, "cctest", "battery", "secret")
			if err != nil || string(got) != "s3cr3t" {
				t.Fatalf("resource: %q %v", got, err)
			}
		}
		if _, err := c.Auth(ctx, proto.TeeTDX); err != nil {
			t.Fatal(err)
		}
		_, err = c.PostAttestation(ctx, genuine)
		o.replayPassed = err == nil
		if err == nil {
			return o
		}
		_, err = c.Resource(ctx, "cctest", "battery", "secret")
		var ke *proto.Error
		o.refusedGotResource = !errors.As(err, &ke)
		return o
	}
	for name, want := range map[string]outcome{
		"":                         {},
		FaultAcceptsReusedNonce:    {replayPassed: true},
		FaultFixedNonce:            {sameNonce: true, replayPassed: true},
		FaultReportDataUnbound:     {otherKeyPassed: true},
		FaultIgnoresResourcePolicy: {},
	} {
		t.Run("fault="+name, func(t *testing.T) {
			fs := faults.Set{}
			if name != "" {
				fs[name] = true
			}
			if got := run(t, fs); got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}
