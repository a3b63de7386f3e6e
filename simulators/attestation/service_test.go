package attestation

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cctest/cctest/simulators/tee/simdevice"

	"github.com/cctest/cctest/attest/client"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/internal/testpolicy"
	"github.com/cctest/cctest/simulators/tee"
)

func startService(t testing.TB, cfg Config) (*Service, *client.Client) {
	t.Helper()
	if cfg.Policy == nil {
		cfg.Policy = testpolicy.Platform(t)
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return s, c
}

var (
	tdxMachine = tee.NewTDXMachine(tee.TDXOptions{Name: "svc-tdx"})
	snpMachine = tee.MustNewSNPMachine(tee.SNPOptions{Name: "svc-snp"})
)

// evidenceFor fetches evidence from a machine bound to nonce and context.
func evidenceFor(t testing.TB, m tee.Machine, nonce []byte, ctxID string) verifier.Evidence {
	t.Helper()
	ev, err := simdevice.New(m).Evidence(verifier.BindReportData(nonce, ctxID))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func challenge(t testing.TB, c *client.Client, bindTo string) []byte {
	t.Helper()
	ch, err := c.Challenge(context.Background(), bindTo)
	if err != nil {
		t.Fatal(err)
	}
	n, err := ch.NonceBytes()
	if err != nil || len(n) != 32 {
		t.Fatalf("nonce %q: %v", ch.Nonce, err)
	}
	if ch.Expires.IsZero() {
		t.Error("challenge has no expiry")
	}
	return n
}

func TestAttestPassesTDXAndSNPAndStoresTheVerdict(t *testing.T) {
	_, c := startService(t, Config{})
	if time.Until(mustChallenge(t, c).Expires) < 4*time.Minute {
		t.Error("default challenge lifetime is under 5 minutes")
	}
	ctx := context.Background()
	for _, m := range []tee.Machine{tdxMachine, snpMachine} {
		t.Run(m.TEE(), func(t *testing.T) {
			n := challenge(t, c, "")
			rec, err := c.Attest(ctx, n, "pod:1234", evidenceFor(t, m, n, "pod:1234"))
			if err != nil {
				t.Fatal(err)
			}
			if !rec.Pass || rec.TEE != m.TEE() || rec.ID == "" || rec.Context != "pod:1234" {
				t.Fatalf("verdict %+v", rec)
			}
			if _, ok := rec.Check("challenge"); !ok {
				t.Error("no challenge check in the verdict")
			}
			if nc, ok := rec.Check("nonce"); !ok || !nc.Pass {
				t.Errorf("nonce check %+v", nc)
			}
			if rec.Evidence != nil {
				t.Error("POST /v1/attest should not echo the evidence")
			}
			got, err := c.Verdict(ctx, rec.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != rec.ID || !got.Pass || got.Evidence == nil {
				t.Fatalf("stored verdict %+v", got)
			}
			// The caller can verify the stored evidence itself.
			rd := verifier.BindReportData(n, "pod:1234")
			if v := verifier.New(verifier.Options{TestRoots: tee.TestRoots()}).Verify(*got.Evidence, testpolicy.Platform(t), rd[:]); !v.Pass {
				t.Errorf("re-verification of the stored evidence failed: %s", v.Reason)
			}
		})
	}
}

func TestNonceIsSingleUseBoundAndExpiring(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	_, c := startService(t, Config{Now: clock, NonceTTL: time.Minute})
	ctx := context.Background()

	n := challenge(t, c, "")
	ev := evidenceFor(t, tdxMachine, n, "pod:a")
	if rec, err := c.Attest(ctx, n, "pod:a", ev); err != nil || !rec.Pass {
		t.Fatalf("first use: %v %+v", err, rec)
	}
	rec, err := c.Attest(ctx, n, "pod:a", ev)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Pass || !strings.Contains(rec.Reason, "already used") || !strings.Contains(rec.Reason, "replayed") {
		t.Errorf("reused nonce: pass=%v reason %q", rec.Pass, rec.Reason)
	}

	unknown := make([]byte, 32)
	rand.Read(unknown)
	rec, _ = c.Attest(ctx, unknown, "pod:a", evidenceFor(t, tdxMachine, unknown, "pod:a"))
	if rec.Pass || !strings.Contains(rec.Reason, "not issued by this service") {
		t.Errorf("unknown nonce: pass=%v reason %q", rec.Pass, rec.Reason)
	}

	n = challenge(t, c, "")
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	rec, _ = c.Attest(ctx, n, "pod:a", evidenceFor(t, tdxMachine, n, "pod:a"))
	if rec.Pass || !strings.Contains(rec.Reason, "expired") {
		t.Errorf("expired nonce: pass=%v reason %q", rec.Pass, rec.Reason)
	}

	n = challenge(t, c, "node:n1")
	rec, _ = c.Attest(ctx, n, "node:n2", evidenceFor(t, tdxMachine, n, "node:n2"))
	if rec.Pass || !strings.Contains(rec.Reason, `issued for "node:n1"`) {
		t.Errorf("context-pinned nonce: pass=%v reason %q", rec.Pass, rec.Reason)
	}
}

func TestEvidenceBoundElsewhereFails(t *testing.T) {
	_, c := startService(t, Config{})
	ctx := context.Background()
	cases := map[string]func(n []byte) verifier.Evidence{
		"other context": func(n []byte) verifier.Evidence { return evidenceFor(t, tdxMachine, n, "pod:someone-else") },
		"replayed quote": func(n []byte) verifier.Evidence {
			m := tee.NewTDXMachine(tee.TDXOptions{Name: "replayer", Faults: []tee.Fault{tee.FaultReplay}})
			return evidenceFor(t, m, n, "pod:a")
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			n := challenge(t, c, "")
			rec, err := c.Attest(ctx, n, "pod:a", mk(n))
			if err != nil {
				t.Fatal(err)
			}
			if rec.Pass || !strings.HasPrefix(rec.Reason, "nonce:") {
				t.Errorf("pass=%v reason %q, want the nonce check to fail", rec.Pass, rec.Reason)
			}
		})
	}
	n := challenge(t, c, "")
	tampered := tee.NewTDXMachine(tee.TDXOptions{Name: "tamper", Faults: []tee.Fault{tee.FaultTampered}})
	rec, _ := c.Attest(ctx, n, "pod:a", evidenceFor(t, tampered, n, "pod:a"))
	if rec.Pass {
		t.Error("tampered quote passed")
	}
}

func TestAcceptsAllFault(t *testing.T) {
	_, c := startService(t, Config{Faults: faults.Set{FaultAcceptsAll: true}})
	garbage := verifier.Evidence{TEE: "tdx", Raw: []byte("not a quote")}
	rec, err := c.Attest(context.Background(), []byte{1, 2, 3}, "pod:x", garbage)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Pass || len(rec.Checks) != 0 {
		t.Fatalf("accepts-all: pass=%v checks %v", rec.Pass, rec.Checks)
	}
	// A caller verifying the evidence itself notices.
	rd := verifier.BindReportData([]byte{1, 2, 3}, "pod:x")
	if v := verifier.New(verifier.Options{TestRoots: tee.TestRoots()}).Verify(garbage, testpolicy.Platform(t), rd[:]); v.Pass {
		t.Error("garbage evidence verified")
	}
}

func TestServiceDownFault(t *testing.T) {
	s, c := startService(t, Config{Faults: faults.Set{FaultServiceDown: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Challenge(ctx, "")
	if err == nil {
		t.Fatal("challenge succeeded against a down service")
	}
	var api *client.APIError
	if errors.As(err, &api) {
		t.Fatalf("got an HTTP answer from a down service: %v", err)
	}
	msg := err.Error()
	t.Logf("down: %s", msg)
	if !strings.Contains(msg, "reset") && !strings.Contains(msg, "EOF") && !strings.Contains(msg, "refused") {
		t.Errorf("error %q does not say the connection was refused or reset", msg)
	}
	if !strings.Contains(msg, strings.TrimPrefix(s.URL(), "https://")) {
		t.Errorf("error %q does not name the service address", msg)
	}
}

func TestBadRequestsAreClearErrors(t *testing.T) {
	s, c := startService(t, Config{})
	ctx := context.Background()
	if _, err := c.Verdict(ctx, "nope"); !isStatus(err, http.StatusNotFound) || !strings.Contains(err.Error(), `verdict "nope" not found`) {
		t.Errorf("unknown verdict: %v", err)
	}
	if _, err := c.Attest(ctx, []byte{1}, "", verifier.Evidence{}); !isStatus(err, http.StatusBadRequest) || !strings.Contains(err.Error(), "context is required") {
		t.Errorf("missing context: %v", err)
	}
	if _, err := c.Attest(ctx, nil, "pod:a", verifier.Evidence{}); !isStatus(err, http.StatusBadRequest) || !strings.Contains(err.Error(), "nonce") {
		t.Errorf("missing nonce: %v", err)
	}
	if _, err := c.Challenge(ctx, "has space"); !isStatus(err, http.StatusBadRequest) {
		t.Errorf("bad context: %v", err)
	}
	hc := httpClient(t, s)
	for _, tc := range []struct{ method, path, body, want string }{
		{"POST", "/v1/attest", `{"nonce":"00","context":"pod:a","evidence":{},"extra":1}`, `unknown field "extra"`},
		{"POST", "/v1/attest", `not json`, "request JSON"},
		{"POST", "/v1/attest", ``, "request body is empty"},
		{"POST", "/v1/attest", `{"nonce":"zz","context":"pod:a","evidence":{}}`, "want the hex nonce"},
	} {
		req, _ := http.NewRequest(tc.method, s.URL()+tc.path, strings.NewReader(tc.body))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var eb client.ErrorBody
		json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(eb.Error, tc.want) {
			t.Errorf("%s %s %q: %d %q, want 400 containing %q", tc.method, tc.path, tc.body, resp.StatusCode, eb.Error, tc.want)
		}
	}
	resp, err := hc.Get(s.URL() + "/v1/attest")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/attest: %d, want 405", resp.StatusCode)
	}
}

func TestTLSRequiresTheCA(t *testing.T) {
	s, _ := startService(t, Config{})
	c, err := client.New(s.URL(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Challenge(context.Background(), ""); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("client without the CA: %v, want a certificate error", err)
	}
	if _, err := client.New(s.URL(), client.Options{CAPEM: []byte("junk")}); err == nil {
		t.Error("junk CA bundle accepted")
	}
	if _, err := client.New("ftp://x", client.Options{}); err == nil || !strings.Contains(err.Error(), "want https://") {
		t.Errorf("bad URL: %v", err)
	}
}

func TestStartNeedsAPolicy(t *testing.T) {
	if _, err := Start(Config{}); err == nil || !strings.Contains(err.Error(), "policy is required") {
		t.Errorf("no policy: %v", err)
	}
}

func TestPlainHTTP(t *testing.T) {
	s, c := startService(t, Config{PlainHTTP: true})
	if !strings.HasPrefix(s.URL(), "http://") || s.CAPEM() != nil {
		t.Fatalf("url %s", s.URL())
	}
	challenge(t, c, "")
}

func mustChallenge(t *testing.T, c *client.Client) client.Challenge {
	ch, err := c.Challenge(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func isStatus(err error, status int) bool {
	var api *client.APIError
	return errors.As(err, &api) && api.Status == status
}

func httpClient(_ *testing.T, s *Service) *http.Client { return rawHTTP(s) }

// A refused submission does not use up the nonce; a pass does.
func TestRefusedSubmissionKeepsTheNonce(t *testing.T) {
	_, c := startService(t, Config{})
	ctx := context.Background()
	n := challenge(t, c, "")
	ev := evidenceFor(t, tdxMachine, n, "pod:a")
	bad := ev
	bad.Raw = append([]byte(nil), ev.Raw...)
	bad.Raw[200] ^= 1
	if rec, err := c.Attest(ctx, n, "pod:a", bad); err != nil || rec.Pass {
		t.Fatalf("tampered: %v pass=%v", err, rec.Pass)
	}
	if rec, err := c.Attest(ctx, n, "pod:a", ev); err != nil || !rec.Pass {
		t.Fatalf("genuine after a refused variant: %v %+v", err, rec.Reason)
	}
	if rec, _ := c.Attest(ctx, n, "pod:a", ev); rec.Pass || !strings.Contains(rec.Reason, "already used") {
		t.Errorf("replay: pass=%v %q", rec.Pass, rec.Reason)
	}
}

func TestFaultAcceptsReplay(t *testing.T) {
	_, c := startService(t, Config{Faults: faults.Set{FaultAcceptsReplay: true}})
	ctx := context.Background()
	n := challenge(t, c, "")
	ev := evidenceFor(t, tdxMachine, n, "pod:a")
	for i := 0; i < 2; i++ {
		if rec, err := c.Attest(ctx, n, "pod:a", ev); err != nil || !rec.Pass {
			t.Fatalf("submission %d under service-accepts-replay: %v %q", i, err, rec.Reason)
		}
	}
}
