// Package kbs speaks the Key Broker Service attestation protocol 0.4.0 as
// Trustee (confidential-containers/trustee, kbs/) serves it and
// guest-components' kbs_protocol crate (attestation-agent/kbs_protocol)
// speaks it: Request → Challenge → Attestation → token, then
// GET /kbs/v0/resource/<repo>/<type>/<tag> answered with a JWE encrypted to
// the TEE's ephemeral key.
//
// The JSON shapes are kbs-types' (confidential-containers/kbs-types,
// src/lib.rs): field names, the kebab-case "extra-params", "init-data",
// "runtime-data", "tee-pubkey", "tee-evidence" and the snake_case
// "primary_evidence", "additional_evidence" inside it.
//
// This package is production code: it imports nothing from simulators/.
package kbs

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
)

// ProtocolVersion is the only version Trustee accepts ("=0.4.0" semver
// requirement in kbs/src/attestation/backend.rs) and guest-components sends
// (KBS_PROTOCOL_VERSION).
const ProtocolVersion = "0.4.0"

// CookieName is the session cookie (kbs/src/attestation/session.rs).
const CookieName = "kbs-session-id"

// API paths (KBS_PREFIX "/kbs/v0").
const (
	PathPrefix   = "/kbs/v0"
	PathAuth     = PathPrefix + "/auth"
	PathAttest   = PathPrefix + "/attest"
	PathResource = PathPrefix + "/resource/" // + <repo>/<type>/<tag>
)

// TEE names of kbs-types' Tee enum (serde names).
const (
	TeeAzSNPvTPM    = "az-snp-vtpm"
	TeeAzTDXvTPM    = "az-tdx-vtpm"
	TeeNvidia       = "nvidia"
	TeeSGX          = "sgx"
	TeeSNP          = "snp"
	TeeTDX          = "tdx"
	TeeCCA          = "cca"
	TeeCSV          = "csv"
	TeeSE           = "se"
	TeeHygonDCU     = "hygondcu"
	TeeTPM          = "tpm"
	TeeSample       = "sample"
	TeeSampleDevice = "sampledevice"
)

// KnownTees lists kbs-types' Tee values; a Request naming anything else
// does not deserialize in Trustee.
func KnownTees() []string {
	return []string{TeeAzSNPvTPM, TeeAzTDXvTPM, TeeNvidia, TeeSGX, TeeSNP, TeeTDX, TeeCCA, TeeCSV, TeeSE,
		TeeHygonDCU, TeeTPM, TeeSample, TeeSampleDevice}
}

// IsKnownTee says whether tee is a kbs-types Tee value.
func IsKnownTee(tee string) bool { return slices.Contains(KnownTees(), tee) }

// SupportedHashAlgorithms is what guest-components lists in the Request's
// extra-params (kbs-types HashAlgorithm::list_all, lower case).
var SupportedHashAlgorithms = []string{"sha256", "sha384", "sha512", "sm3"}

// Extra-params keys (guest-components rcar_client.rs, Trustee attestation/mod.rs).
const (
	ExtraSupportedHashAlgorithms = "supported-hash-algorithms"
	ExtraSelectedHashAlgorithm   = "selected-hash-algorithm"
)

// Request is the body of POST /kbs/v0/auth.
type Request struct {
	Version     string          `json:"version"`
	Tee         string          `json:"tee"`
	ExtraParams json.RawMessage `json:"extra-params"`
}

// Challenge is the answer to /auth. Trustee sends "extra-params": "" (an
// empty JSON string) for every TEE but IBM SE; the nonce is 32 random bytes
// in standard base64 (make_nonce).
type Challenge struct {
	Nonce       string          `json:"nonce"`
	ExtraParams json.RawMessage `json:"extra-params"`
}

// TeePubKey is kbs-types' TeePubKey, a JWK tagged by "kty": EC keys carry
// crv, alg, x, y; RSA keys alg, n, e (base64url without padding).
type TeePubKey struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	Alg string `json:"alg"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
}

// Validate checks the shape serde accepts: every field of the kty's variant
// present, none of the other variant's.
func (k TeePubKey) Validate() error {
	switch k.Kty {
	case "EC":
		if k.Crv == "" || k.Alg == "" || k.X == "" || k.Y == "" {
			return fmt.Errorf("tee-pubkey: an EC key needs crv, alg, x and y")
		}
		if k.N != "" || k.E != "" {
			return fmt.Errorf("tee-pubkey: an EC key has no n or e")
		}
	case "RSA":
		if k.Alg == "" || k.N == "" || k.E == "" {
			return fmt.Errorf("tee-pubkey: an RSA key needs alg, n and e")
		}
		if k.Crv != "" || k.X != "" || k.Y != "" {
			return fmt.Errorf("tee-pubkey: an RSA key has no crv, x or y")
		}
	default:
		return fmt.Errorf("tee-pubkey: kty %q is neither EC nor RSA", k.Kty)
	}
	return nil
}

// RuntimeData is bound into the evidence (see ReportData).
type RuntimeData struct {
	Nonce     string    `json:"nonce"`
	TeePubKey TeePubKey `json:"tee-pubkey"`
}

// CompositeEvidence is the "tee-evidence" member. AdditionalEvidence is a
// JSON string (a map of TEE to device evidence) or "" when the guest has no
// attestable devices.
type CompositeEvidence struct {
	PrimaryEvidence    json.RawMessage `json:"primary_evidence"`
	AdditionalEvidence string          `json:"additional_evidence"`
}

// InitData is the optional "init-data" member; guest-components sends
// format "toml" (INIT_DATA_FORMAT), and Trustee's built-in AS accepts only toml.
type InitData struct {
	Format string `json:"format"`
	Body   string `json:"body"`
}

// Attestation is the body of POST /kbs/v0/attest. guest-components sends
// "init-data": null when it has none (serde's Option without skip).
type Attestation struct {
	InitData    *InitData         `json:"init-data"`
	RuntimeData RuntimeData       `json:"runtime-data"`
	TeeEvidence CompositeEvidence `json:"tee-evidence"`
}

// AttestationToken is the answer to /attest.
type AttestationToken struct {
	Token string `json:"token"`
}

// ErrorInformation is the error body of every refusal (kbs-types), an RFC
// 7807 problem: Type is ErrorTypePrefix + "/" + the error's variant name.
type ErrorInformation struct {
	Type   string `json:"type"`
	Detail string `json:"detail"`
}

// ErrorTypePrefix prefixes ErrorInformation.Type (kbs/src/error.rs).
const ErrorTypePrefix = "https://github.com/confidential-containers/kbs/errors"

// Error types (kbs/src/error.rs variant names) and their HTTP status: 404
// for InvalidRequestPath and PluginNotFound, 401 for all others.
const (
	ErrAdminAuthInitialization = "AdminAuthInitialization"
	ErrAdminAuthAccess         = "AdminAuthAccess"
	ErrAttestationError        = "AttestationError"
	ErrInvalidRequestPath      = "InvalidRequestPath"
	ErrJweError                = "JweError"
	ErrPluginNotFound          = "PluginNotFound"
	ErrPluginInternalError     = "PluginInternalError"
	ErrPolicyDeny              = "PolicyDeny"
	ErrSerdeError              = "SerdeError"
	ErrTokenNotFound           = "TokenNotFound"
	ErrTokenVerifierError      = "TokenVerifierError"
)

// ErrorType is the full ErrorInformation.Type of a variant name.
func ErrorType(variant string) string { return ErrorTypePrefix + "/" + variant }

// StatusOf is Trustee's HTTP status for an error variant.
func StatusOf(variant string) int {
	if variant == ErrInvalidRequestPath || variant == ErrPluginNotFound {
		return 404
	}
	return 401
}

// resourcePart is Trustee's ResourceDesc pattern for each of repo, type
// and tag (plugins/implementations/resource/backend.rs).
var resourcePart = regexp.MustCompile(`^[a-zA-Z0-9_\-]+[a-zA-Z0-9_\-\.]*$`)

// ValidResourcePart says whether s is a legal repository, type or tag.
func ValidResourcePart(s string) bool { return resourcePart.MatchString(s) }

// ResourcePath is the URL path of a resource, checking each part.
func ResourcePath(repo, typ, tag string) (string, error) {
	for _, p := range [][2]string{{"repository", repo}, {"type", typ}, {"tag", tag}} {
		if !ValidResourcePart(p[1]) {
			return "", fmt.Errorf("resource %s %q: want letters, digits, '_', '-' or '.', not starting with '.'", p[0], p[1])
		}
	}
	return PathResource + repo + "/" + typ + "/" + tag, nil
}
