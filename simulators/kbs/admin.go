package kbs

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	proto "github.com/cctest/cctest/attest/kbs"
)

// AdminConfig is Trustee's "AuthenticatedAuthorization" admin mode
// (kbs/src/admin): a bearer JWT verified with a configured public key
// (here Ed25519, alg EdDSA, as trustee-cli's generated admin key),
// exp required (jsonwebtoken's default validation, 60 s leeway), iss and
// aud checked when configured, and a "role" claim authorized by regex ACLs
// over the request URI.
type AdminConfig struct {
	// PublicKey verifies admin tokens. Nil: every admin request is denied
	// (Trustee's DenyAll mode).
	PublicKey ed25519.PublicKey
	// Issuer and Audience, when set, must match the token's iss / aud.
	Issuer, Audience string
	// ACL maps roles to allowed endpoints; default
	// {"kbs-admin": "^/kbs/v0/resource/.+$"} (Trustee's documented example).
	ACL []ACLRule
}

// ACLRule is one regex_acl entry; AllowedEndpoints must start with "^/kbs"
// and end with "$", as Trustee requires.
type ACLRule struct {
	Role             string
	AllowedEndpoints string
}

// AdminRole is the default ACL's role.
const AdminRole = "kbs-admin"

type admin struct {
	cfg AdminConfig
	acl []aclEntry
	now func() time.Time
}

type aclEntry struct {
	role string
	re   *regexp.Regexp
}

func newAdmin(cfg AdminConfig, now func() time.Time) (*admin, error) {
	if len(cfg.ACL) == 0 {
		cfg.ACL = []ACLRule{{Role: AdminRole, AllowedEndpoints: "^/kbs/v0/resource/.+$"}}
	}
	a := &admin{cfg: cfg, now: now}
	for _, r := range cfg.ACL {
		if !strings.HasPrefix(r.AllowedEndpoints, "^/kbs") || !strings.HasSuffix(r.AllowedEndpoints, "$") {
			return nil, errors.New("Admin Role regex must be anchored.")
		}
		re, err := regexp.Compile(r.AllowedEndpoints)
		if err != nil {
			return nil, fmt.Errorf("Failed to parse regex: %v", err)
		}
		a.acl = append(a.acl, aclEntry{role: r.Role, re: re})
	}
	return a, nil
}

// check returns "" when the request may use the admin API, else the
// admin::Error text Trustee gives.
func (a *admin) check(r *http.Request) string {
	if a.cfg.PublicKey == nil {
		return "Admin access denied: Admin access denied as DenyAll authorization_mode is enabled"
	}
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "Failed to parse HTTP Auth Bearer header (want Authorization: Bearer <admin JWT>)"
	}
	claims, why := a.verify(strings.TrimSpace(token))
	if why != "" {
		return "Admin access denied: Cannot verify token with any of the issuers (" + why + ")"
	}
	if a.cfg.Issuer != "" && claims.Iss != a.cfg.Issuer {
		return fmt.Sprintf("Admin access denied: Cannot verify token with any of the issuers (issuer %q, want %q)", claims.Iss, a.cfg.Issuer)
	}
	if a.cfg.Audience != "" && !claims.hasAudience(a.cfg.Audience) {
		return fmt.Sprintf("Admin access denied: Cannot verify token with any of the issuers (audience %v lacks %q)", claims.audiences(), a.cfg.Audience)
	}
	if claims.Role == "" {
		return "Admin access denied: Missing required `role` claim in JWT"
	}
	uri := r.URL.RequestURI()
	for _, e := range a.acl {
		if e.role == claims.Role && e.re.MatchString(uri) {
			return ""
		}
	}
	return fmt.Sprintf("Admin access denied: Role %s not allowed for path %s", claims.Role, uri)
}

type adminClaims struct {
	Iss  string          `json:"iss"`
	Aud  json.RawMessage `json:"aud"`
	Exp  *float64        `json:"exp"`
	Nbf  *float64        `json:"nbf"`
	Role string          `json:"role"`
}

func (c adminClaims) audiences() []string {
	var one string
	if json.Unmarshal(c.Aud, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(c.Aud, &many)
	return many
}

func (c adminClaims) hasAudience(a string) bool {
	for _, x := range c.audiences() {
		if x == a {
			return true
		}
	}
	return false
}

// leeway is jsonwebtoken's default.
const leeway = 60

func (a *admin) verify(token string) (adminClaims, string) {
	var c adminClaims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, "not a JWS compact token"
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return c, "header is not base64url"
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hb, &hdr) != nil {
		return c, "header is not JSON"
	}
	if hdr.Alg != "EdDSA" {
		return c, fmt.Sprintf("alg %q, the admin key is Ed25519 (EdDSA)", hdr.Alg)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !ed25519.Verify(a.cfg.PublicKey, []byte(parts[0]+"."+parts[1]), sig) {
		return c, "signature does not verify with the admin public key"
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(pb, &c) != nil {
		return c, "claims are not base64url JSON"
	}
	now := float64(a.now().Unix())
	if c.Exp == nil {
		return c, "the token has no exp claim"
	}
	if *c.Exp+leeway < now {
		return c, "ExpiredSignature"
	}
	return c, ""
}

// AdminToken makes an admin JWT as trustee-cli does (attest/kbs.AdminToken).
func AdminToken(key ed25519.PrivateKey, role string, ttl time.Duration, now time.Time) string {
	return proto.AdminToken(key, role, ttl, now)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
