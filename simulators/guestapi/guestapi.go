// Package guestapi is a simulated CoCo guest API: an http.Handler shaped
// as guest-components' api-server-rest (api-server-rest/src/router.rs),
// which confidential containers reach on 127.0.0.1:8006:
//
//	GET /cdh/resource/<repo>/<type>/<tag>  the resource from the KBS
//	                                       (application/octet-stream)
//	GET /aa/evidence?runtime_data=<data>   the attester's evidence JSON, the
//	    [&encoding=base64]                 runtime data (≤ 64 bytes, raw or
//	                                       base64url) zero-padded into REPORT_DATA
//	GET /aa/token?token_type=kbs           {"token", "tee_keypair"}
//	GET /info                              {"version", "tee"?, "feature"}
//
// The feature set decides what is served, as api-server-rest's --features:
// "resource" (its default) serves /cdh only, "attestation" /aa only, "all"
// both; the other root answers 404 "Resource Feature Not Enabled" /
// "Attestation Feature Not Enabled". Requests from non-loopback addresses
// get 403 "Forbidden"; unknown paths 404 "URL NOT FOUND"; a missing query
// parameter 400 "BAD REQUEST"; a failure 500 with the error text.
//
// Resources are fetched by an attestation agent built on attest/kbs: it
// attests with the guest's own evidence (the TEE interface) and re-attests
// once when the KBS answers 401, as guest-components does.
package guestapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"

	proto "github.com/cctest/cctest/attest/kbs"
)

// TEE is the guest's TEE.
type TEE interface {
	// KBSTee is the kbs-types TEE name ("tdx", "snp").
	KBSTee() string
	// Evidence is the attester's primary evidence JSON for reportData.
	Evidence(reportData [64]byte) (json.RawMessage, error)
}

// Feature sets.
const (
	FeatureResource    = "resource"
	FeatureAttestation = "attestation"
	FeatureAll         = "all"
)

// Version is what /info reports.
const Version = "cctest-simulated"

// Config configures the guest API.
type Config struct {
	// Features: FeatureResource (default), FeatureAttestation or FeatureAll.
	Features string
	TEE      TEE
	// KBSURL and KBS options (CA, Dial) of the attestation agent's client.
	KBSURL string
	KBS    proto.Options
}

// Handler is the guest API.
type Handler struct {
	cfg Config

	mu     sync.Mutex
	client *proto.Client
}

// New checks the configuration.
func New(cfg Config) (*Handler, error) {
	if cfg.Features == "" {
		cfg.Features = FeatureResource
	}
	switch cfg.Features {
	case FeatureResource, FeatureAttestation, FeatureAll:
	default:
		return nil, fmt.Errorf("guest API features %q: supported features are: resource, attestation, all", cfg.Features)
	}
	if cfg.TEE == nil {
		return nil, errors.New("guest API: a TEE is required")
	}
	return &Handler{cfg: cfg}, nil
}

func (h *Handler) aa() bool  { return h.cfg.Features != FeatureResource }
func (h *Handler) cdh() bool { return h.cfg.Features != FeatureAttestation }

func text(w http.ResponseWriter, status int, body string) {
	w.WriteHeader(status)
	w.Write([]byte(body))
}

func octets(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// ServeHTTP routes as router.rs does.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		text(w, http.StatusForbidden, "Forbidden")
		return
	}
	path, q := r.URL.Path, r.URL.Query()
	if path == "/info" {
		if r.Method != http.MethodGet {
			text(w, http.StatusMethodNotAllowed, "Method Not Allowed")
			return
		}
		info := map[string]any{"version": Version, "feature": h.cfg.Features}
		if h.aa() {
			info["tee"] = h.cfg.TEE.KBSTee()
		}
		b, _ := json.Marshal(info)
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
		return
	}
	switch {
	case strings.HasPrefix(path, "/aa/"):
		if !h.aa() {
			text(w, http.StatusNotFound, "Attestation Feature Not Enabled")
			return
		}
		h.serveAA(w, r, strings.TrimPrefix(path, "/aa"), q)
	case strings.HasPrefix(path, "/cdh/"):
		if !h.cdh() {
			text(w, http.StatusNotFound, "Resource Feature Not Enabled")
			return
		}
		rest, ok := strings.CutPrefix(path, "/cdh/resource/")
		if !ok {
			text(w, http.StatusNotFound, "URL NOT FOUND")
			return
		}
		b, err := h.resource(r.Context(), rest)
		if err != nil {
			text(w, http.StatusInternalServerError, err.Error())
			return
		}
		octets(w, b)
	default:
		text(w, http.StatusNotFound, "URL NOT FOUND")
	}
}

func (h *Handler) serveAA(w http.ResponseWriter, r *http.Request, sub string, q map[string][]string) {
	get := func(k string) (string, bool) {
		v, ok := q[k]
		if !ok || len(v) == 0 {
			return "", false
		}
		return v[0], true
	}
	if r.Method != http.MethodGet {
		text(w, http.StatusNotFound, "URL NOT FOUND")
		return
	}
	switch sub {
	case "/evidence":
		rdText, ok := get("runtime_data")
		if !ok {
			text(w, http.StatusBadRequest, "BAD REQUEST")
			return
		}
		data := []byte(rdText)
		if enc, ok := get("encoding"); ok {
			if enc != "base64" {
				text(w, http.StatusBadRequest, "BAD REQUEST")
				return
			}
			var err error
			if data, err = base64.RawURLEncoding.DecodeString(rdText); err != nil {
				text(w, http.StatusBadRequest, "BAD REQUEST")
				return
			}
		}
		if len(data) > 64 {
			text(w, http.StatusInternalServerError, "Report data must be no more than 64 bytes")
			return
		}
		var rd [64]byte
		copy(rd[:], data)
		ev, err := h.cfg.TEE.Evidence(rd)
		if err != nil {
			text(w, http.StatusInternalServerError, err.Error())
			return
		}
		octets(w, ev)
	case "/token":
		tt, ok := get("token_type")
		if !ok {
			text(w, http.StatusBadRequest, "BAD REQUEST")
			return
		}
		if tt != "kbs" {
			text(w, http.StatusInternalServerError, fmt.Sprintf("Unsupported token type %s", tt))
			return
		}
		b, err := h.token(r.Context())
		if err != nil {
			text(w, http.StatusInternalServerError, err.Error())
			return
		}
		octets(w, b)
	default:
		text(w, http.StatusNotFound, "URL NOT FOUND")
	}
}

// agent returns the attestation agent's KBS client, attesting when it has
// no token (or fresh is set).
func (h *Handler) agent(ctx context.Context, fresh bool) (*proto.Client, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.client != nil && h.client.Token() != "" && !fresh {
		return h.client, nil
	}
	if h.cfg.KBSURL == "" {
		return nil, errors.New("no KBS configured for the attestation agent")
	}
	if h.client == nil {
		c, err := proto.New(h.cfg.KBSURL, h.cfg.KBS)
		if err != nil {
			return nil, err
		}
		h.client = c
	}
	if _, err := h.client.Auth(ctx, h.cfg.TEE.KBSTee()); err != nil {
		return nil, fmt.Errorf("RCAR handshake: %w", err)
	}
	if _, err := h.client.Attest(ctx, h.cfg.TEE.Evidence); err != nil {
		return nil, fmt.Errorf("RCAR handshake: %w", err)
	}
	return h.client, nil
}

// Resource is the Confidential Data Hub's get_resource: kbs:///<repo>/<type>/<tag>
// through the attestation agent. Unsealing a sealed secret uses it too.
func (h *Handler) Resource(ctx context.Context, repo, typ, tag string) ([]byte, error) {
	return h.resource(ctx, repo+"/"+typ+"/"+tag)
}

// resource fetches kbs:///<repo>/<type>/<tag>.
func (h *Handler) resource(ctx context.Context, rest string) ([]byte, error) {
	parts := strings.Split(rest, "/")
	if len(parts) != 3 {
		return nil, fmt.Errorf("resource path %q: want <repository>/<type>/<tag>", rest)
	}
	c, err := h.agent(ctx, false)
	if err != nil {
		return nil, err
	}
	b, err := c.Resource(ctx, parts[0], parts[1], parts[2])
	var ke *proto.Error
	if errors.As(err, &ke) && ke.Status == http.StatusUnauthorized && ke.Variant() == proto.ErrTokenNotFound {
		// The session expired: a new RCAR handshake, once.
		if c, err = h.agent(ctx, true); err != nil {
			return nil, err
		}
		b, err = c.Resource(ctx, parts[0], parts[1], parts[2])
	}
	return b, err
}

// token is the attestation agent's answer for token_type=kbs:
// {"token": <JWT>, "tee_keypair": <PEM of the TEE key>}.
func (h *Handler) token(ctx context.Context) ([]byte, error) {
	c, err := h.agent(ctx, false)
	if err != nil {
		return nil, err
	}
	pemKey, err := c.TokenKeyPEM()
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]string{"token": c.Token(), "tee_keypair": string(pemKey)})
}
