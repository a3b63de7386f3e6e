package guestapi

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	proto "github.com/cctest/cctest/attest/kbs"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/internal/testpolicy"
	probe "github.com/cctest/cctest/probe/guestapi"
	"github.com/cctest/cctest/simulators/kbs"
	"github.com/cctest/cctest/simulators/tee"
	"github.com/cctest/cctest/simulators/tee/simdevice"
)

type simTEE struct{ m tee.Machine }

func (s simTEE) KBSTee() string { k, _ := proto.KBSTee(s.m.TEE()); return k }
func (s simTEE) Evidence(rd [64]byte) (json.RawMessage, error) {
	ev, err := simdevice.New(s.m).Evidence(rd)
	if err != nil {
		return nil, err
	}
	return proto.PrimaryEvidence(ev)
}

var tdx = tee.NewTDXMachine(tee.TDXOptions{Name: "guestapi-tdx"})

func setup(t *testing.T, features string, m tee.Machine) (*probe.Client, string) {
	t.Helper()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	srv, err := kbs.New(kbs.Config{Policy: testpolicy.Platform(t), Admin: kbs.AdminConfig{PublicKey: pub}})
	if err != nil {
		t.Fatal(err)
	}
	srv.PutResource("default", "key", "disk", []byte("disk key"))
	kts := httptest.NewTLSServer(srv)
	t.Cleanup(kts.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: kts.Certificate().Raw})
	h, err := New(Config{Features: features, TEE: simTEE{m}, KBSURL: kts.URL, KBS: proto.Options{CAPEM: ca}})
	if err != nil {
		t.Fatal(err)
	}
	gts := httptest.NewServer(h)
	t.Cleanup(gts.Close)
	return probe.New(gts.URL, nil), gts.URL
}

func TestResourceThroughTheGuestAPI(t *testing.T) {
	c, _ := setup(t, "", tdx)
	got, err := c.Resource(context.Background(), "default", "key", "disk")
	if err != nil || string(got) != "disk key" {
		t.Fatalf("%q %v", got, err)
	}
	// The default feature set is "resource": /aa is not served.
	_, err = c.Evidence(context.Background(), "x")
	var e *probe.Error
	if !errors.As(err, &e) || e.Status != 404 || e.Body != "Attestation Feature Not Enabled" {
		t.Fatalf("%v", err)
	}
}

func TestResourceRefusedForAFailingGuest(t *testing.T) {
	m := tee.NewTDXMachine(tee.TDXOptions{Name: "guestapi-debug", Faults: []tee.Fault{tee.FaultDebug}})
	c, _ := setup(t, FeatureAll, m)
	_, err := c.Resource(context.Background(), "default", "key", "disk")
	var e *probe.Error
	if !errors.As(err, &e) || e.Status != 500 || !strings.Contains(e.Body, "PolicyDeny") {
		t.Fatalf("%v", err)
	}
}

func TestEvidencePutsRuntimeDataInReportData(t *testing.T) {
	c, base := setup(t, FeatureAttestation, tdx)
	ctx := context.Background()
	raw, err := c.Evidence(ctx, "hello\x00\xff")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := proto.EvidenceFromPrimary(proto.TeeTDX, raw)
	if err != nil {
		t.Fatalf("the evidence is not the TDX attester's JSON: %v", err)
	}
	want, _ := verifier.ReportData([]byte("hello\x00\xff"))
	if vd := verifier.New(verifier.Options{TestRoots: tee.TestRoots()}).Verify(ev, testpolicy.Platform(t), want[:]); !vd.Pass {
		t.Fatalf("evidence does not carry the runtime data zero-padded: %s", vd.Reason)
	}
	// "attestation" alone does not serve /cdh.
	_, err = c.Resource(ctx, "default", "key", "disk")
	var e *probe.Error
	if !errors.As(err, &e) || e.Status != 404 || e.Body != "Resource Feature Not Enabled" {
		t.Fatalf("%v", err)
	}
	for _, q := range []struct {
		path string
		code int
	}{
		{"/aa/evidence", 400},
		{"/aa/evidence?runtime_data=x&encoding=hex", 400},
		{"/aa/evidence?runtime_data=" + strings.Repeat("a", 65), 500},
		{"/aa/token", 400},
		{"/aa/nothing", 404},
		{"/elsewhere", 404},
	} {
		resp, err := http.Get(base + q.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != q.code {
			t.Errorf("%s: %d, want %d", q.path, resp.StatusCode, q.code)
		}
	}
}

// The token answer carries tee_keypair, as the attestation agent's does;
// the probe client returns the token only.
func TestTokenWithoutThePrivateKey(t *testing.T) {
	c, base := setup(t, FeatureAll, tdx)
	tok, err := c.Token(context.Background())
	if err != nil || strings.Count(tok, ".") != 2 {
		t.Fatalf("%q %v", tok, err)
	}
	if strings.Contains(tok, "PRIVATE KEY") {
		t.Fatal("token carries the key")
	}
	resp, err := http.Get(base + "/aa/token?token_type=kbs")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var m map[string]string
	if json.Unmarshal(b, &m) != nil || !strings.Contains(m["tee_keypair"], "PRIVATE KEY") || m["token"] == "" {
		t.Fatalf("raw answer shape: %s", b)
	}
}

func TestOnlyLoopbackCallers(t *testing.T) {
	h, _ := New(Config{TEE: simTEE{tdx}})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/info", nil)
	req.RemoteAddr = "10.0.0.1:1234"
	h.ServeHTTP(rec, req)
	if rec.Code != 403 || rec.Body.String() != "Forbidden" {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
	if _, err := New(Config{Features: "everything", TEE: simTEE{tdx}}); err == nil {
		t.Error("unknown feature set accepted")
	}
}
