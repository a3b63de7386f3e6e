package kbs

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// SealedSecret is a Confidential Containers sealed secret: what a
// Kubernetes Secret carries instead of the value, which the guest's
// Confidential Data Hub replaces with the KBS resource it names once the
// guest has attested. The unsigned form is
//
//	sealed.fakejwsheader.<base64url of the JSON below>.fakesignature
//
// (guest-components confidential-data-hub/docs/SEALED_SECRET.md).
type SealedSecret struct {
	Version          string            `json:"version"`
	Type             string            `json:"type"`
	Name             string            `json:"name"` // kbs:///<repo>/<type>/<tag>
	Provider         string            `json:"provider"`
	ProviderSettings map[string]string `json:"provider_settings"`
	Annotations      map[string]string `json:"annotations"`
}

// SealedPrefix starts every sealed secret value.
const SealedPrefix = "sealed."

// Seal returns the unsigned sealed-secret value naming a KBS resource.
func Seal(repo, typ, tag string) string {
	s := SealedSecret{Version: "0.1.0", Type: "vault", Name: ResourceURI(repo, typ, tag), Provider: "kbs",
		ProviderSettings: map[string]string{}, Annotations: map[string]string{}}
	b, _ := json.Marshal(s)
	return SealedPrefix + "fakejwsheader." + base64.RawURLEncoding.EncodeToString(b) + ".fakesignature"
}

// ResourceURI is the kbs:/// URI of a resource.
func ResourceURI(repo, typ, tag string) string { return "kbs:///" + repo + "/" + typ + "/" + tag }

// ParseSealed reads a sealed-secret value and returns the KBS resource it
// names. Only the vault type with the kbs provider is understood.
func ParseSealed(v string) (repo, typ, tag string, err error) {
	parts := strings.Split(v, ".")
	if len(parts) != 4 || parts[0] != "sealed" {
		return "", "", "", fmt.Errorf("not a sealed secret: want sealed.<header>.<payload>.<signature>")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "", "", "", fmt.Errorf("sealed secret payload: %w", err)
	}
	var s SealedSecret
	if err := json.Unmarshal(b, &s); err != nil {
		return "", "", "", fmt.Errorf("sealed secret payload: %w", err)
	}
	if s.Type != "vault" || s.Provider != "kbs" {
		return "", "", "", fmt.Errorf("sealed secret of type %q, provider %q: only vault secrets from the kbs provider are supported", s.Type, s.Provider)
	}
	path, ok := strings.CutPrefix(s.Name, "kbs:///")
	if !ok {
		return "", "", "", fmt.Errorf("sealed secret names %q: want kbs:///<repository>/<type>/<tag>", s.Name)
	}
	p := strings.Split(path, "/")
	if len(p) != 3 || p[0] == "" || p[1] == "" || p[2] == "" {
		return "", "", "", fmt.Errorf("sealed secret names %q: want kbs:///<repository>/<type>/<tag>", s.Name)
	}
	return p[0], p[1], p[2], nil
}
