// Package guestapi is the client confidential containers use for the CoCo
// guest API (guest-components' api-server-rest, default
// http://127.0.0.1:8006): evidence for runtime data, and resources from the
// KBS through the confidential data hub.
//
// It never records or returns the TEE private key the token endpoint
// hands out ("tee_keypair"): Token drops it before returning.
package guestapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultURL is api-server-rest's default bind address.
const DefaultURL = "http://127.0.0.1:8006"

// Client talks to the guest API.
type Client struct {
	base string
	http *http.Client
}

// New makes a client; base "" is DefaultURL.
func New(base string, hc *http.Client) *Client {
	if base == "" {
		base = DefaultURL
	}
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	return &Client{base: strings.TrimRight(base, "/"), http: hc}
}

// Error is a non-200 answer.
type Error struct {
	Path   string
	Status int
	Body   string
}

func (e *Error) Error() string {
	return fmt.Sprintf("guest API %s: HTTP %d: %s", e.Path, e.Status, e.Body)
}

func (c *Client) get(ctx context.Context, path string, q url.Values) ([]byte, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("guest API %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("guest API %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		body := string(b)
		if len(body) > 500 {
			body = body[:500] + "…"
		}
		return nil, &Error{Path: path, Status: resp.StatusCode, Body: strings.TrimSpace(body)}
	}
	return b, nil
}

// Evidence asks the attester for evidence over runtimeData (at most 64
// bytes; sent base64url-encoded so any bytes survive) and returns its JSON.
func (c *Client) Evidence(ctx context.Context, runtimeData string) (json.RawMessage, error) {
	if len(runtimeData) > 64 {
		return nil, fmt.Errorf("runtime data is %d bytes, REPORT_DATA holds 64", len(runtimeData))
	}
	// Printable data goes raw, which every api-server-rest accepts;
	// encoding=base64 exists only from guest-components v0.21.0.
	q := url.Values{"runtime_data": {runtimeData}}
	if !printable(runtimeData) {
		q = url.Values{"runtime_data": {base64.RawURLEncoding.EncodeToString([]byte(runtimeData))}, "encoding": {"base64"}}
	}
	b, err := c.get(ctx, "/aa/evidence", q)
	if err != nil {
		return nil, err
	}
	if !json.Valid(b) {
		return nil, errors.New("guest API /aa/evidence: the answer is not JSON")
	}
	return b, nil
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x21 || r > 0x7e {
			return false
		}
	}
	return true
}

// Info is api-server-rest's /info: its version, the TEE (when the
// attestation feature is on) and the feature set.
type Info struct {
	Version string `json:"version"`
	TEE     string `json:"tee,omitempty"`
	Feature string `json:"feature,omitempty"`
}

// Info reads /info.
func (c *Client) Info(ctx context.Context) (Info, error) {
	var i Info
	b, err := c.get(ctx, "/info", nil)
	if err != nil {
		return i, err
	}
	if err := json.Unmarshal(b, &i); err != nil {
		return i, fmt.Errorf("guest API /info: %w", err)
	}
	return i, nil
}

// Resource fetches kbs:///<repo>/<type>/<tag> through the data hub.
func (c *Client) Resource(ctx context.Context, repo, typ, tag string) ([]byte, error) {
	for _, p := range []string{repo, typ, tag} {
		if p == "" || strings.ContainsAny(p, "/?#") {
			return nil, fmt.Errorf("resource part %q: want a non-empty name without / ? #", p)
		}
	}
	return c.get(ctx, "/cdh/resource/"+repo+"/"+typ+"/"+tag, nil)
}

// Token returns the KBS attestation token (token_type=kbs). The answer's
// tee_keypair (the TEE private key) is discarded unread: it is neither
// returned nor kept.
func (c *Client) Token(ctx context.Context) (string, error) {
	b, err := c.get(ctx, "/aa/token", url.Values{"token_type": {"kbs"}})
	if err != nil {
		return "", err
	}
	var m struct {
		Token string `json:"token"` // tee_keypair is deliberately not a field
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Token == "" {
		return "", errors.New("guest API /aa/token: the answer has no token")
	}
	for i := range b { // the buffer held the private key: clear it
		b[i] = 0
	}
	return m.Token, nil
}
