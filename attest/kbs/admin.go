package kbs

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
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

// Admin puts and deletes resources through a KBS's admin API, as
// trustee-cli does: the request carries a bearer JWT signed with the
// admin's Ed25519 key (header {"typ":"JWT","alg":"EdDSA"}, claims role,
// iat, exp), and the KBS checks it against the admin public key it was
// configured with.
type Admin struct {
	base *url.URL
	key  ed25519.PrivateKey
	role string
	http *http.Client
}

// AdminRole is the role trustee-cli's tokens carry by default.
const AdminRole = "kbs-admin"

// NewAdmin returns an admin client for the KBS at baseURL.
func NewAdmin(baseURL string, key ed25519.PrivateKey, caPEM []byte) (*Admin, error) {
	u, err := parseBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("KBS admin key: not an Ed25519 private key")
	}
	roots, err := withCA(nil, caPEM)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return &Admin{base: u, key: key, role: AdminRole, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}, nil
}

// AdminToken makes an admin JWT with the given role and lifetime.
func AdminToken(key ed25519.PrivateKey, role string, ttl time.Duration, now time.Time) string {
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"EdDSA"}`))
	claims, _ := json.Marshal(map[string]any{"role": role, "iat": now.Unix(), "exp": now.Add(ttl).Unix()})
	in := hdr + "." + base64.RawURLEncoding.EncodeToString(claims)
	return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, []byte(in)))
}

// PutResource sets kbs:///<repo>/<type>/<tag> to data.
func (a *Admin) PutResource(ctx context.Context, repo, typ, tag string, data []byte) error {
	return a.do(ctx, http.MethodPost, repo, typ, tag, data)
}

// DeleteResource removes kbs:///<repo>/<type>/<tag>.
func (a *Admin) DeleteResource(ctx context.Context, repo, typ, tag string) error {
	return a.do(ctx, http.MethodDelete, repo, typ, tag, nil)
}

func (a *Admin) do(ctx context.Context, method, repo, typ, tag string, data []byte) error {
	u := a.base.JoinPath(PathResource + repo + "/" + typ + "/" + tag)
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+AdminToken(a.key, a.role, 5*time.Minute, time.Now()))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("KBS admin %s %s: %w", method, u.Path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("KBS admin %s %s: %s: %s", method, u.Path, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
