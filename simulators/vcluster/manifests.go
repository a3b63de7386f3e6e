package vcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"
)

// ManifestsField is where the manifests come from in vcluster.yaml; errors name it.
const ManifestsField = "experimental.deploy.vcluster.manifests"

// fieldManager is the server-side apply owner of deployed objects.
const fieldManager = "vcluster"

// Manifest is one document of a manifests string.
type Manifest struct {
	Index  int // 1-based position among the documents
	Line   int // 1-based line the document starts on
	Object *unstructured.Unstructured
}

func (m Manifest) where() string {
	return fmt.Sprintf("%s: document %d (line %d, kind %s)", ManifestsField, m.Index, m.Line, m.Object.GetKind())
}

// ParseManifests splits a multi-document YAML string and decodes every
// document; empty documents are skipped. Errors name the document index,
// line and, where it can be read, the kind.
func ParseManifests(manifests string) ([]Manifest, error) {
	var out []Manifest
	for _, d := range splitDocuments(manifests) {
		j, err := yaml.YAMLToJSONStrict([]byte(d.text))
		if err != nil {
			return nil, fmt.Errorf("%s: document %d (line %d%s): invalid YAML: %s", ManifestsField, d.index, d.line, guessKind(d.text), absoluteLines(err.Error(), d.line))
		}
		if t := strings.TrimSpace(string(j)); t == "null" || t == "" {
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal(j, &obj); err != nil {
			return nil, fmt.Errorf("%s: document %d (line %d%s): expected a mapping with apiVersion, kind and metadata", ManifestsField, d.index, d.line, guessKind(d.text))
		}
		m := Manifest{Index: d.index, Line: d.line, Object: &unstructured.Unstructured{Object: obj}}
		if err := checkObject(m.Object); err != nil {
			return nil, fmt.Errorf("%s: document %d (line %d%s): %w", ManifestsField, d.index, d.line, guessKind(d.text), err)
		}
		out = append(out, m)
	}
	return out, nil
}

func checkObject(u *unstructured.Unstructured) error {
	if s, ok := u.Object["apiVersion"].(string); !ok || s == "" {
		return errors.New("apiVersion is required")
	}
	if s, ok := u.Object["kind"].(string); !ok || s == "" {
		return errors.New("kind is required")
	}
	if _, err := schema.ParseGroupVersion(u.GetAPIVersion()); err != nil {
		return fmt.Errorf("apiVersion: %w", err)
	}
	if md, ok := u.Object["metadata"]; ok {
		if _, isMap := md.(map[string]any); !isMap {
			return errors.New("metadata must be a mapping")
		}
	}
	if u.GetName() == "" {
		return errors.New("metadata.name is required")
	}
	return nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// absoluteLines turns the parser's line within a document into a line of
// the whole manifests string.
func absoluteLines(msg string, start int) string {
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	n, _ := strconv.Atoi(m[1])
	return fmt.Sprintf("line %d: %s", start+n-1, msg[len(m[0]):])
}

var kindLine = regexp.MustCompile(`(?m)^kind:\s*["']?([A-Za-z0-9]+)`)

// guessKind reads the kind of a document that may not parse.
func guessKind(doc string) string {
	if m := kindLine.FindStringSubmatch(doc); m != nil {
		return ", kind " + m[1]
	}
	return ""
}

type document struct {
	index, line int
	text        string
}

// splitDocuments splits at "---" lines. A blank preamble before a leading
// separator is not a document.
func splitDocuments(s string) []document {
	var docs []document
	var cur []string
	start := 1
	flush := func() {
		text := strings.Join(cur, "\n")
		if len(docs) > 0 || strings.TrimSpace(stripComments(text)) != "" {
			docs = append(docs, document{index: len(docs) + 1, line: start, text: text})
		}
		cur = nil
	}
	for i, line := range strings.Split(s, "\n") {
		if isSeparator(line) {
			flush()
			start = i + 2
			continue
		}
		cur = append(cur, line)
	}
	flush()
	return docs
}

func isSeparator(line string) bool {
	if !strings.HasPrefix(line, "---") {
		return false
	}
	rest := line[3:]
	return rest == "" || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\r'
}

func stripComments(text string) string {
	var b strings.Builder
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// ApplyManifests applies experimental.deploy.vcluster.manifests to the
// tenant, creating or updating every object (server-side apply, field
// manager "vcluster"), in document order. Nothing is applied when any
// document is invalid.
func ApplyManifests(ctx context.Context, tenant *rest.Config, manifests string) error {
	docs, err := ParseManifests(manifests)
	if err != nil {
		return err
	}
	if len(docs) == 0 {
		return nil
	}
	dyn, err := dynamic.NewForConfig(tenant)
	if err != nil {
		return fmt.Errorf("%s: tenant client: %w", ManifestsField, err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(tenant)
	if err != nil {
		return fmt.Errorf("%s: tenant discovery: %w", ManifestsField, err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	for _, m := range docs {
		if err := applyOne(ctx, dyn, mapper, m); err != nil {
			return fmt.Errorf("%s: %w", m.where(), err)
		}
	}
	return nil
}

func applyOne(ctx context.Context, dyn dynamic.Interface, mapper *restmapper.DeferredDiscoveryRESTMapper, m Manifest) error {
	gvk := m.Object.GroupVersionKind()
	mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		mapper.Reset() // a CRD from an earlier document may have just been served
		mapping, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return fmt.Errorf("tenant API server does not serve %s: %w", gvk, err)
	}
	var ri dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := m.Object.GetNamespace()
		if ns == "" {
			ns = metav1.NamespaceDefault
		}
		m.Object.SetNamespace(ns)
		ri = dyn.Resource(mapping.Resource).Namespace(ns)
	} else {
		m.Object.SetNamespace("") // ignored for cluster-scoped kinds, as kubectl does
	}
	_, err = ri.Apply(ctx, m.Object.GetName(), m.Object, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
	if err != nil {
		return fmt.Errorf("apply %s: %w", m.Object.GetName(), err)
	}
	return nil
}
