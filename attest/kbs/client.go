package kbs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// EvidenceFunc produces the primary evidence (the TEE's primary_evidence
// JSON) bound to reportData.
type EvidenceFunc func(reportData [64]byte) (json.RawMessage, error)

// Options configure a Client.
type Options struct {
	// CAPEM and/or RootCAs are the CAs trusted for the KBS's certificate
	// (the KBS key is distributed out of band, as the protocol says). Both
	// empty: the system roots.
	CAPEM   []byte
	RootCAs *x509.CertPool
	// Dial replaces the dialer, e.g. to reach the KBS from inside a pod's
	// network namespace.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// KeyAlgorithm of the TEE key pair: KeyECP256 (default), KeyECP521 or
	// KeyRSAOAEP256.
	KeyAlgorithm string
	// InitData, when set, is sent as "init-data".
	InitData *InitData
	// Timeout of each request, default 30s.
	Timeout time.Duration
}

// Client is one KBS client: one TEE key pair, one session cookie, one
// token. Safe for concurrent use, though exchanges are serialized.
type Client struct {
	base *url.URL
	http *http.Client
	key  *KeyPair
	opts Options

	mu        sync.Mutex
	tee       string
	cookie    string
	expires   time.Time
	challenge *Challenge
	token     string
}

// Error is a refusal from the KBS: its status and ErrorInformation.
type Error struct {
	Op     string // "auth", "attest", "resource"
	Status int
	Info   *ErrorInformation // nil when the body was not ErrorInformation
	Body   string            // the raw body then
}

func (e *Error) Error() string {
	if e.Info != nil {
		return fmt.Sprintf("kbs %s: HTTP %d %s: %s", e.Op, e.Status, e.Variant(), e.Info.Detail)
	}
	return fmt.Sprintf("kbs %s: HTTP %d: %s", e.Op, e.Status, strings.TrimSpace(e.Body))
}

// Variant is the error's type without the prefix ("PolicyDeny", ...).
func (e *Error) Variant() string {
	if e.Info == nil {
		return ""
	}
	return strings.TrimPrefix(e.Info.Type, ErrorTypePrefix+"/")
}

// New makes a client of the KBS at baseURL (https://host:port, no path).
func New(baseURL string, opts Options) (*Client, error) {
	u, err := parseBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	roots, err := withCA(opts.RootCAs, opts.CAPEM)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: opts.Timeout,
	}
	if opts.Dial != nil {
		tr.DialContext = opts.Dial
	} else {
		tr.DialContext = (&net.Dialer{Timeout: opts.Timeout}).DialContext
	}
	key, err := NewKeyPair(opts.KeyAlgorithm)
	if err != nil {
		return nil, err
	}
	return &Client{base: u, key: key, opts: opts, http: &http.Client{Transport: tr, Timeout: opts.Timeout,
		// The KBS never redirects; following one would carry the cookie elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// PublicKey is the TEE public key this client sends as "tee-pubkey".
func (c *Client) PublicKey() TeePubKey { return c.key.PublicKey() }

// Token is the last attestation token ("" before Attest succeeds).
func (c *Client) Token() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// Auth sends the Request for tee and keeps the Challenge and the session
// cookie.
func (c *Client) Auth(ctx context.Context, tee string) (Challenge, error) {
	extra, _ := json.Marshal(map[string]any{ExtraSupportedHashAlgorithms: SupportedHashAlgorithms})
	body, _ := json.Marshal(Request{Version: ProtocolVersion, Tee: tee, ExtraParams: extra})
	resp, err := c.do(ctx, "auth", http.MethodPost, PathAuth, body, false)
	if err != nil {
		return Challenge{}, err
	}
	var ch Challenge
	if err := json.Unmarshal(resp, &ch); err != nil || ch.Nonce == "" {
		return Challenge{}, fmt.Errorf("kbs auth: the answer is not a Challenge with a nonce: %s", clip(resp))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cookie == "" {
		return Challenge{}, fmt.Errorf("kbs auth: the answer set no %s cookie", CookieName)
	}
	c.tee, c.challenge, c.token = tee, &ch, ""
	return ch, nil
}

// ReportData is the REPORT_DATA this client binds its evidence to for the
// challenge of the last Auth: ReportDataWith the challenge's selected hash,
// its nonce, this client's key and no additional evidence.
func (c *Client) ReportData() ([64]byte, error) {
	c.mu.Lock()
	ch := c.challenge
	c.mu.Unlock()
	if ch == nil {
		return [64]byte{}, errors.New("kbs attest: no challenge: call Auth first")
	}
	rd, err := ReportDataWith(selectedHash(ch.ExtraParams), ch.Nonce, c.key.PublicKey(), "")
	if err != nil {
		return rd, fmt.Errorf("kbs attest: %w", err)
	}
	return rd, nil
}

// Attest answers the challenge of the last Auth: it computes REPORT_DATA
// (ReportData), asks evidence for it, and posts the Attestation. It
// returns the token.
func (c *Client) Attest(ctx context.Context, evidence EvidenceFunc) (string, error) {
	rd, err := c.ReportData()
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	nonce := c.challenge.Nonce
	c.mu.Unlock()
	primary, err := evidence(rd)
	if err != nil {
		return "", fmt.Errorf("kbs attest: evidence: %w", err)
	}
	return c.PostAttestation(ctx, Attestation{
		InitData:    c.opts.InitData,
		RuntimeData: RuntimeData{Nonce: nonce, TeePubKey: c.key.PublicKey()},
		TeeEvidence: CompositeEvidence{PrimaryEvidence: primary, AdditionalEvidence: ""},
	})
}

// PostAttestation posts att as it is to /attest in this client's session
// and returns the token. Attest builds the genuine one; a tester posts
// crafted ones (another session's nonce, another key) to see them refused.
// A refusal is an *Error.
func (c *Client) PostAttestation(ctx context.Context, att Attestation) (string, error) {
	if !json.Valid(att.TeeEvidence.PrimaryEvidence) {
		return "", errors.New("kbs attest: the primary evidence is not JSON")
	}
	body, err := json.Marshal(att)
	if err != nil {
		return "", err
	}
	resp, err := c.do(ctx, "attest", http.MethodPost, PathAttest, body, true)
	if err != nil {
		return "", err
	}
	var tok AttestationToken
	if err := json.Unmarshal(resp, &tok); err != nil || tok.Token == "" {
		return "", fmt.Errorf("kbs attest: the answer is not {\"token\": ...}: %s", clip(resp))
	}
	c.mu.Lock()
	c.token = tok.Token
	c.mu.Unlock()
	return tok.Token, nil
}

// Resource fetches and decrypts /kbs/v0/resource/<repo>/<type>/<tag> with
// the session cookie. A refusal is an *Error (401 with TokenNotFound when
// the session has not attested or expired, PolicyDeny when the attestation
// does not satisfy the resource policy).
func (c *Client) Resource(ctx context.Context, repo, typ, tag string) ([]byte, error) {
	p, err := ResourcePath(repo, typ, tag)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, "resource", http.MethodGet, p, nil, true)
	if err != nil {
		return nil, err
	}
	pt, err := c.key.Decrypt(resp)
	if err != nil {
		return nil, fmt.Errorf("kbs resource %s/%s/%s: %w", repo, typ, tag, err)
	}
	return pt, nil
}

// selectedHash reads "selected-hash-algorithm" from the challenge's
// extra-params; Trustee sends "" (a JSON string) for all TEEs but SE,
// which means SHA-384.
func selectedHash(extra json.RawMessage) string {
	var m map[string]any
	if json.Unmarshal(extra, &m) == nil {
		if s, ok := m[ExtraSelectedHashAlgorithm].(string); ok {
			return strings.ToLower(s)
		}
	}
	return HashSHA384
}

func (c *Client) do(ctx context.Context, op, method, path string, body []byte, withCookie bool) ([]byte, error) {
	u := *c.base
	u.Path = path
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if withCookie {
		c.mu.Lock()
		cookie, expires := c.cookie, c.expires
		c.mu.Unlock()
		if cookie == "" {
			return nil, fmt.Errorf("kbs %s: no %s cookie: call Auth first", op, CookieName)
		}
		_ = expires // the KBS judges expiry; an expired cookie is still sent so its refusal is seen
		req.AddCookie(&http.Cookie{Name: CookieName, Value: cookie})
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("kbs %s: %w", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("kbs %s: reading the answer: %w", op, err)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == CookieName {
			c.mu.Lock()
			c.cookie, c.expires = ck.Value, ck.Expires
			c.mu.Unlock()
		}
	}
	if resp.StatusCode != http.StatusOK {
		e := &Error{Op: op, Status: resp.StatusCode, Body: clip(data)}
		var info ErrorInformation
		if json.Unmarshal(data, &info) == nil && info.Type != "" {
			e.Info = &info
		}
		return nil, e
	}
	return data, nil
}

func clip(b []byte) string {
	s := string(b)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// TokenKeyPEM is the PEM of this client's TEE key pair, for the CoCo guest
// API's /aa/token answer only (see KeyPair.PrivateKeyPEM).
func (c *Client) TokenKeyPEM() ([]byte, error) { return c.key.PrivateKeyPEM() }

// parseBaseURL checks a KBS address: http(s)://host[:port], no path.
func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("KBS URL %q: want https://host[:port]", raw)
	}
	return u, nil
}

// withCA adds a PEM CA bundle to roots (a copy; nil roots start empty).
// Without a bundle it returns roots as given (nil: the system's).
func withCA(roots *x509.CertPool, caPEM []byte) (*x509.CertPool, error) {
	if len(caPEM) == 0 {
		return roots, nil
	}
	if roots == nil {
		roots = x509.NewCertPool()
	} else {
		roots = roots.Clone()
	}
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("KBS CA bundle: no PEM certificate in it")
	}
	return roots, nil
}
