package netpol

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Decode reads the NetworkPolicies from a multi-document YAML manifest
// (documents of other kinds are skipped, so a whole app bundle can be passed).
// Unknown fields are errors: a misspelt "podSelecter" would otherwise silently
// select every pod. Errors name source and the document number (1-based).
func Decode(source string, data []byte) ([]networkingv1.NetworkPolicy, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []networkingv1.NetworkPolicy
	for doc := 1; ; doc++ {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", source, doc, err)
		}
		if isBlank(raw) {
			continue
		}
		var tm metav1.PartialObjectMetadata
		if err := yaml.Unmarshal(raw, &tm); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", source, doc, err)
		}
		if tm.Kind != "NetworkPolicy" {
			continue
		}
		if tm.APIVersion != networkingv1.SchemeGroupVersion.String() {
			return nil, fmt.Errorf("%s: document %d: NetworkPolicy apiVersion %q is not supported, want %q",
				source, doc, tm.APIVersion, networkingv1.SchemeGroupVersion.String())
		}
		var np networkingv1.NetworkPolicy
		if err := yaml.UnmarshalStrict(raw, &np); err != nil {
			return nil, fmt.Errorf("%s: document %d (NetworkPolicy %s): %w", source, doc, tm.Name, err)
		}
		out = append(out, np)
	}
}

// Load decodes and compiles in one step; errors name the source.
func Load(source string, data []byte) (*Policies, error) {
	nps, err := Decode(source, data)
	if err != nil {
		return nil, err
	}
	return compile(source+": ", nps)
}

// isBlank is true for a document holding only whitespace and comments.
func isBlank(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		l := strings.TrimSpace(line)
		if l != "" && !strings.HasPrefix(l, "#") && l != "---" {
			return false
		}
	}
	return true
}
