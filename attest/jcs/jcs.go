// Package jcs is the JSON Canonicalization Scheme (RFC 8785), the form
// Trustee and guest-components hash to bind the KBS runtime data into a
// TEE's REPORT_DATA (serde_json_canonicalizer on both sides). It wraps the
// maintained github.com/gowebpki/jcs: object members sorted by their names'
// UTF-16 code units, ECMAScript number serialization, minimal string
// escaping, no whitespace.
package jcs

import (
	"encoding/json"
	"fmt"

	gojcs "github.com/gowebpki/jcs"
)

// Transform canonicalizes JSON text.
func Transform(data []byte) ([]byte, error) {
	out, err := gojcs.Transform(data)
	if err != nil {
		return nil, fmt.Errorf("JCS: %w", err)
	}
	return out, nil
}

// Marshal encodes v with encoding/json and canonicalizes the result.
// encoding/json's HTML escapes (\u003c, \u0026, ...) are undone by the
// canonicalization, which writes those characters as themselves.
func Marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("JCS: %w", err)
	}
	return Transform(b)
}
