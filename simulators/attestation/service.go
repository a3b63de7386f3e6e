// Package attestation is the simulated platform's attestation service: an
// HTTPS verifier endpoint on loopback that issues single-use challenges,
// verifies submitted evidence with attest/verifier against a policy, and
// keeps the verdicts. Its API is attest/client's; Advertise publishes it in
// the tenant the way a real platform would (Service, EndpointSlice,
// ConfigMap in cctest-system).
//
// Faults: attestation-service-down makes the listener reset every
// connection; attestation-service-accepts-all returns a passing verdict with
// no checks for any submission (a caller verifying the evidence itself sees
// the difference); service-accepts-replay never uses up a nonce.
//
// Only a passing verdict uses up a nonce: a refused submission gives it
// back, so a caller can submit bad variants of evidence and then the
// genuine one under the same nonce (the live tamper test).
package attestation

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cctest/cctest/simulators/tee"

	"github.com/cctest/cctest/attest/client"
	"github.com/cctest/cctest/attest/discovery"
	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/simulators/controlplane/pki"
)

// Config configures the service. Policy is required.
type Config struct {
	Policy   *policy.Policy
	Verifier *verifier.Verifier // default verifier.New(verifier.Options{TestRoots: tee.TestRoots()})
	// CA issues the serving certificate (for 127.0.0.1, localhost and the
	// in-cluster names of the Service). Nil: a throwaway CA, removed on Close.
	CA *pki.CA
	// Addr to listen on, default 127.0.0.1:0.
	Addr string
	// PlainHTTP serves http:// instead of https://.
	PlainHTTP bool
	Faults    faults.Set
	// KBS, when set, is served under /kbs/v0/ on the same endpoint: the
	// platform's attestation service is a Trustee-protocol KBS for Kata
	// guests as well as the node gate's verifier.
	KBS      http.Handler
	NonceTTL time.Duration // default 5m
	// MaxVerdicts and MaxNonces bound memory (defaults 10000 and 100000).
	MaxVerdicts, MaxNonces int
	Now                    func() time.Time
	Log                    func(format string, args ...any)
}

// Service is a running attestation service.
type Service struct {
	cfg    Config
	url    string
	caPEM  []byte
	ln     net.Listener
	srv    *http.Server
	store  *store
	tmpDir string
	wg     sync.WaitGroup
}

// In-cluster identity of the service (see Advertise).
const (
	Namespace     = discovery.Namespace
	ServiceName   = discovery.ServiceName
	ConfigMapName = discovery.ConfigMapName
	Port          = discovery.Port
	PortName      = "https"
	// AppLabel is the label of the service's pods, what NetworkPolicies select.
	AppLabel = discovery.AppLabel
	AppValue = discovery.AppValue
)

// InClusterURL is how pods reach the service (the convention in attest/client).
const InClusterURL = client.DefaultURL

// Start listens and serves until Close.
func Start(cfg Config) (*Service, error) {
	if cfg.Policy == nil {
		return nil, errors.New("attestation service: a policy is required")
	}
	if cfg.Verifier == nil {
		cfg.Verifier = verifier.New(verifier.Options{TestRoots: tee.TestRoots()})
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.NonceTTL == 0 {
		cfg.NonceTTL = 5 * time.Minute
	}
	if cfg.MaxVerdicts == 0 {
		cfg.MaxVerdicts = 10000
	}
	if cfg.MaxNonces == 0 {
		cfg.MaxNonces = 100000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = func(string, ...any) {}
	}
	s := &Service{cfg: cfg, store: newStore(cfg.MaxVerdicts, cfg.MaxNonces)}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("attestation service: %w", err)
	}
	s.ln = ln
	scheme := "http"
	if !cfg.PlainHTTP {
		tlsCfg, err := s.tlsConfig()
		if err != nil {
			ln.Close()
			s.cleanup()
			return nil, err
		}
		scheme = "https"
		ln = tls.NewListener(ln, tlsCfg)
	}
	s.url = fmt.Sprintf("%s://%s", scheme, s.ln.Addr().String())

	mux := http.NewServeMux()
	mux.HandleFunc("POST "+client.PathChallenge, s.challenge)
	mux.HandleFunc("POST "+client.PathAttest, s.attest)
	mux.HandleFunc("GET "+client.PathVerdicts+"{id}", s.verdict)
	if cfg.KBS != nil {
		mux.Handle("/kbs/v0/", cfg.KBS)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)} // TLS handshake noise from clients that do not trust the CA
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if cfg.Faults.Has(FaultServiceDown) {
			resetAll(s.ln)
			return
		}
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Log("attestation service: %v", err)
		}
	}()
	return s, nil
}

// resetAll is the attestation-service-down fault: the port is open but every
// connection is reset at once, as by a crashed backend behind a proxy.
func resetAll(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
	}
}

func (s *Service) tlsConfig() (*tls.Config, error) {
	ca := s.cfg.CA
	if ca == nil {
		dir, err := os.MkdirTemp("", "cctest-attestation-ca-")
		if err != nil {
			return nil, err
		}
		s.tmpDir = dir
		if ca, err = pki.Create(dir, "cctest attestation service CA"); err != nil {
			return nil, err
		}
	}
	host, _, _ := net.SplitHostPort(s.ln.Addr().String())
	ips := []net.IP{net.ParseIP("127.0.0.1")}
	if ip := net.ParseIP(host); ip != nil && !ip.Equal(ips[0]) && !ip.IsUnspecified() {
		ips = append(ips, ip)
	}
	certPEM, key, err := ca.Issue(pki.Leaf{
		CommonName: ServiceName + "." + Namespace + ".svc",
		DNSNames: []string{"localhost", ServiceName, ServiceName + "." + Namespace, ServiceName + "." + Namespace + ".svc",
			ServiceName + "." + Namespace + ".svc.cluster.local"},
		IPs:    ips,
		Server: true,
	})
	if err != nil {
		return nil, fmt.Errorf("attestation service certificate: %w", err)
	}
	keyPEM, err := pki.KeyPEM(key)
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	s.caPEM = ca.CertPEM
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// URL is the service's loopback address, e.g. https://127.0.0.1:41234.
func (s *Service) URL() string { return s.url }

// Addr is the listener's host:port.
func (s *Service) Addr() string { return s.ln.Addr().String() }

// CAPEM is the bundle clients must trust (nil for plain HTTP).
func (s *Service) CAPEM() []byte { return s.caPEM }

// Client returns a client of this service over loopback.
func (s *Service) Client() (*client.Client, error) {
	return client.New(s.url, client.Options{CAPEM: s.caPEM})
}

// Close stops serving; verdicts are lost.
func (s *Service) Close() error {
	var err error
	if s.cfg.Faults.Has(FaultServiceDown) {
		err = s.ln.Close()
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = s.srv.Shutdown(ctx)
	}
	s.wg.Wait()
	s.cleanup()
	return err
}

func (s *Service) cleanup() {
	if s.tmpDir != "" {
		os.RemoveAll(s.tmpDir)
	}
}

func (s *Service) challenge(w http.ResponseWriter, r *http.Request) {
	var req client.ChallengeRequest
	if err := decode(r, &req, true); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Context != "" {
		if msg := checkContext(req.Context); msg != "" {
			writeError(w, http.StatusBadRequest, msg)
			return
		}
	}
	now := s.cfg.Now()
	exp := now.Add(s.cfg.NonceTTL)
	n, err := s.store.issue(now, exp, req.Context)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, client.Challenge{Nonce: n, Expires: exp.UTC(), Context: req.Context})
}

func (s *Service) attest(w http.ResponseWriter, r *http.Request) {
	var req client.AttestRequest
	if err := decode(r, &req, false); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	nonce, err := hex.DecodeString(req.Nonce)
	if err != nil || len(nonce) == 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("nonce %q: want the hex nonce from POST %s", req.Nonce, client.PathChallenge))
		return
	}
	if msg := checkContext(req.Context); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	req.Nonce = strings.ToLower(req.Nonce)
	now := s.cfg.Now()
	rec := client.Record{ID: newID(), Context: req.Context, Nonce: req.Nonce}
	switch {
	case s.cfg.Faults.Has(FaultAcceptsAll):
		// The broken service: no challenge bookkeeping, no verification.
		rec.Verdict = verifier.Verdict{TEE: req.Evidence.TEE, Pass: true, Policy: s.cfg.Policy.Name,
			Source: req.Evidence.Source, Checks: []verifier.Check{}, VerifiedAt: now.UTC()}
	default:
		if why := s.store.redeem(req.Nonce, req.Context, now, s.cfg.Faults.Has(FaultAcceptsReplay)); why != "" {
			rec.Verdict = verifier.Verdict{TEE: req.Evidence.TEE, Policy: s.cfg.Policy.Name, Source: req.Evidence.Source,
				Reason: "challenge: " + why, VerifiedAt: now.UTC(),
				Checks: []verifier.Check{{Name: "challenge", Expected: "a fresh, unused nonce issued by this service", Measured: short(req.Nonce), Detail: why}}}
			break
		}
		rd := verifier.BindReportData(nonce, req.Context)
		rec.Verdict = s.cfg.Verifier.Verify(req.Evidence, s.cfg.Policy, rd[:])
		if s.cfg.Faults.Has(tee.FaultVerifierSkipsChecks) {
			rec.Verdict = SkipChecks(rec.Verdict)
		}
		rec.Verdict.Checks = append([]verifier.Check{{Name: "challenge", Expected: "a fresh, unused nonce issued by this service",
			Measured: short(req.Nonce), Pass: true}}, rec.Verdict.Checks...)
		if !rec.Pass {
			s.store.release(req.Nonce)
		}
	}
	stored := rec
	ev := req.Evidence
	stored.Evidence = &ev
	s.store.put(stored)
	s.cfg.Log("attestation service: %s %s: pass=%v %s", rec.ID, rec.Context, rec.Pass, rec.Reason)
	w.Header().Set("Location", client.PathVerdicts+rec.ID)
	writeJSON(w, http.StatusOK, rec)
}

func (s *Service) verdict(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rec, ok := s.store.get(id)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("verdict %q not found (the service keeps the last %d)", id, s.cfg.MaxVerdicts))
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

// checkContext accepts what the platform binds evidence to: a short
// printable string such as "pod:<uid>", "node:<name>", "probe:<uid>".
func checkContext(c string) string {
	if c == "" {
		return `context is required (e.g. "pod:<uid>", "node:<name>"): evidence is bound to it`
	}
	if len(c) > 253 {
		return fmt.Sprintf("context is %d characters, at most 253", len(c))
	}
	for _, r := range c {
		if r < 0x21 || r > 0x7e {
			return fmt.Sprintf("context %q: only printable ASCII without spaces", c)
		}
	}
	return ""
}

const maxBody = 1 << 20

func decode(r *http.Request, v any, emptyOK bool) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("reading the request: %v", err)
	}
	if len(body) > maxBody {
		return fmt.Errorf("request body over %d bytes", maxBody)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		if emptyOK {
			return nil
		}
		return errors.New("request body is empty: want JSON {nonce, context, evidence}")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request JSON: %v", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, client.ErrorBody{Error: msg})
}
