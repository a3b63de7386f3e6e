// Package client speaks the attestation service's HTTP API: ask for a
// challenge (a single-use nonce), submit evidence bound to it, read a stored
// verdict. It holds the wire types shared by the service
// (simulators/attestation) and its callers (probes, the pod attester, specs),
// and has no Kubernetes dependencies so the probe binary stays small.
//
// API (JSON bodies):
//
//	POST /v1/challenge      {context?}                 -> Challenge {nonce (hex), expires}
//	POST /v1/attest         AttestRequest              -> Record (200, pass true or false)
//	GET  /v1/verdicts/{id}                             -> Record with the evidence
//
// Errors are JSON {"error": "..."} with a 4xx/5xx status.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cctest/cctest/attest/verifier"
)

// Challenge is a nonce the service issued.
type Challenge struct {
	Nonce   string    `json:"nonce"` // hex
	Expires time.Time `json:"expires"`
	// Context, when the challenge was asked for one, is the only context
	// evidence bound to this nonce may be submitted for.
	Context string `json:"context,omitempty"`
}

// NonceBytes decodes the nonce.
func (c Challenge) NonceBytes() ([]byte, error) { return hex.DecodeString(c.Nonce) }

// ChallengeRequest optionally pins the challenge to a context.
type ChallengeRequest struct {
	Context string `json:"context,omitempty"`
}

// AttestRequest submits evidence whose REPORT_DATA is
// verifier.BindReportData(nonce, Context).
type AttestRequest struct {
	Nonce    string            `json:"nonce"`   // hex, as issued
	Context  string            `json:"context"` // e.g. "pod:<uid>", "node:<name>", "probe:<uid>"
	Evidence verifier.Evidence `json:"evidence"`
}

// Record is a verdict as the service stores it: the verifier's Verdict
// (its fields inline) plus what it was about.
type Record struct {
	ID      string `json:"id"`
	Context string `json:"context"`
	Nonce   string `json:"nonce"`
	// Evidence is returned by GET /v1/verdicts/{id} so a caller can verify
	// it again itself; POST /v1/attest leaves it out.
	Evidence *verifier.Evidence `json:"evidence,omitempty"`
	verifier.Verdict
}

// ErrorBody is the JSON of a non-2xx answer.
type ErrorBody struct {
	Error string `json:"error"`
}

// DefaultURL is where pods find the attestation service by convention:
// Service "attestation" in namespace "cctest-system", port 8443.
const DefaultURL = "https://attestation.cctest-system.svc:8443"

// Paths of the API.
const (
	PathChallenge = "/v1/challenge"
	PathAttest    = "/v1/attest"
	PathVerdicts  = "/v1/verdicts/"
)

// APIError is a non-2xx answer from the service.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("attestation service: %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// Options configure a Client.
type Options struct {
	// CAPEM is the bundle the service's certificate must chain to (empty:
	// the system roots).
	CAPEM []byte
	// Dial replaces the network dialer (the simulated pod network uses it).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Timeout bounds each request (default 30 s).
	Timeout time.Duration
}

// Client calls one attestation service.
type Client struct {
	base *url.URL
	http *http.Client
}

// New returns a client for the service at baseURL (https://host:port or
// http://host:port).
func New(baseURL string, o Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("attestation service URL %q: %v", baseURL, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("attestation service URL %q: want https://HOST:PORT or http://HOST:PORT", baseURL)
	}
	tr := &http.Transport{
		Proxy:               nil, // the service is reached directly, never through a proxy
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
	if o.Dial != nil {
		tr.DialContext = o.Dial
	} else {
		tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	}
	if u.Scheme == "https" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if len(o.CAPEM) > 0 {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(o.CAPEM) {
				return nil, errors.New("attestation service CA bundle: no PEM certificate found")
			}
			cfg.RootCAs = pool
		}
		tr.TLSClientConfig = cfg
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	return &Client{base: u, http: &http.Client{Transport: tr, Timeout: o.Timeout}}, nil
}

// URL is the service's base URL.
func (c *Client) URL() string { return c.base.String() }

// VerdictURL is where a stored verdict can be read.
func (c *Client) VerdictURL(id string) string {
	return c.base.String() + PathVerdicts + url.PathEscape(id)
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Challenge asks for a fresh nonce. bindTo, when not empty, pins it to
// that context (e.g. "pod:<uid>").
func (c *Client) Challenge(ctx context.Context, bindTo string) (Challenge, error) {
	var out Challenge
	err := c.do(ctx, http.MethodPost, PathChallenge, ChallengeRequest{Context: bindTo}, &out)
	if err == nil {
		if _, derr := out.NonceBytes(); derr != nil || out.Nonce == "" {
			err = fmt.Errorf("attestation service: challenge nonce %q is not hex", out.Nonce)
		}
	}
	return out, err
}

// Attest submits evidence bound to nonce and bindTo (its REPORT_DATA is
// verifier.BindReportData(nonce, bindTo)) and returns the verdict. A
// failing verdict is not an error: check Record.Pass.
func (c *Client) Attest(ctx context.Context, nonce []byte, bindTo string, ev verifier.Evidence) (Record, error) {
	var out Record
	err := c.do(ctx, http.MethodPost, PathAttest, AttestRequest{Nonce: hex.EncodeToString(nonce), Context: bindTo, Evidence: ev}, &out)
	return out, err
}

// Verdict reads a stored verdict, with the evidence it judged.
func (c *Client) Verdict(ctx context.Context, id string) (Record, error) {
	var out Record
	err := c.do(ctx, http.MethodGet, PathVerdicts+url.PathEscape(id), nil, &out)
	return out, err
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("attestation service %s: %w", c.base.Host, unwrapURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("attestation service %s: reading the answer: %w", c.base.Host, err)
	}
	if resp.StatusCode/100 != 2 {
		var eb ErrorBody
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &eb) == nil && eb.Error != "" {
			msg = eb.Error
		}
		return &APIError{Status: resp.StatusCode, Message: msg}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("attestation service %s: answer to %s %s is not the expected JSON: %v", c.base.Host, method, path, err)
	}
	return nil
}

// unwrapURLError drops net/http's `Post "https://...":` prefix, which
// repeats what the caller's message already says.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
