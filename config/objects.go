package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	mgmtv1 "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/config/strictyaml"
)

// Object is one document of a manifest file.
type Object struct {
	File string
	// Doc is the 0-based index of the (non-empty) document in the file.
	Doc        int
	Line       int
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
	// Obj is a typed pointer for known kinds (*corev1.Pod, *nodev1.RuntimeClass,
	// *networkingv1.NetworkPolicy, *corev1.Namespace, *corev1.Service,
	// *mgmtv1.NodeProvider, *mgmtv1.NodeType, *mgmtv1.NodeClaim,
	// *mgmtv1.BareMetalHost) and *unstructured.Unstructured otherwise.
	Obj       any
	Positions strictyaml.Positions
}

// Problem builds a problem located at a YAML path of this object.
func (o *Object) Problem(path, format string, a ...any) Problem {
	p := located(o.File, o.Positions, path, format, a...)
	if p.Line == 0 {
		p.Line = o.Line
	}
	return p
}

// Ref is "Kind/name" (namespace-qualified when namespaced).
func (o *Object) Ref() string {
	if o.Namespace != "" {
		return fmt.Sprintf("%s %s/%s", o.Kind, o.Namespace, o.Name)
	}
	return fmt.Sprintf("%s %s", o.Kind, o.Name)
}

// knownKinds are decoded strictly into their Go types.
var knownKinds = map[schema.GroupVersionKind]func() any{
	corev1.SchemeGroupVersion.WithKind("Pod"):                    func() any { return &corev1.Pod{} },
	corev1.SchemeGroupVersion.WithKind("Namespace"):              func() any { return &corev1.Namespace{} },
	corev1.SchemeGroupVersion.WithKind("Service"):                func() any { return &corev1.Service{} },
	nodev1.SchemeGroupVersion.WithKind("RuntimeClass"):           func() any { return &nodev1.RuntimeClass{} },
	networkingv1.SchemeGroupVersion.WithKind("NetworkPolicy"):    func() any { return &networkingv1.NetworkPolicy{} },
	mgmtv1.SchemeGroupVersion.WithKind(mgmtv1.KindNodeProvider):  func() any { return &mgmtv1.NodeProvider{} },
	mgmtv1.SchemeGroupVersion.WithKind(mgmtv1.KindNodeType):      func() any { return &mgmtv1.NodeType{} },
	mgmtv1.SchemeGroupVersion.WithKind(mgmtv1.KindNodeClaim):     func() any { return &mgmtv1.NodeClaim{} },
	mgmtv1.Metal3GroupVersion.WithKind(mgmtv1.KindBareMetalHost): func() any { return &mgmtv1.BareMetalHost{} },
}

// LoadObjectsFile reads a manifest file (see LoadObjects).
func LoadObjectsFile(path string) ([]Object, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return LoadObjects(path, data)
}

// LoadObjects parses multi-document YAML manifests. Known kinds are decoded
// strictly (unknown fields are errors with path and line); other kinds are
// kept as unstructured. Every document needs apiVersion, kind and
// metadata.name. All problems of all documents are returned together (with
// the objects that did parse).
func LoadObjects(file string, data []byte) ([]Object, error) {
	docs, err := strictyaml.Documents(data)
	if err != nil {
		return nil, Problems{{File: file, Message: err.Error()}}
	}
	var out []Object
	var ps Problems
	for i, doc := range docs {
		body := strictyaml.Body(doc)
		o := Object{File: file, Doc: i, Line: body.Line}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		generic, gerr := strictyaml.Generic(doc)
		m, isMap := generic.(map[string]any)
		if gerr != nil {
			// A duplicate key, a recursive alias or a size limit: say which.
			var se strictyaml.Error
			if errors.As(gerr, &se) {
				ps = append(ps, Problem{File: file, Path: se.Path, Line: se.Pos.Line, Column: se.Pos.Column, Message: fmt.Sprintf("document %d: %s", i+1, se.Msg)})
			} else {
				ps = append(ps, Problem{File: file, Line: body.Line, Message: fmt.Sprintf("document %d: %v", i+1, gerr)})
			}
			continue
		}
		if !isMap {
			ps = append(ps, Problem{File: file, Line: body.Line, Message: fmt.Sprintf("document %d is not a Kubernetes object (a mapping with apiVersion and kind)", i+1)})
			continue
		}
		head.APIVersion, _ = m["apiVersion"].(string)
		head.Kind, _ = m["kind"].(string)
		if md, ok := m["metadata"].(map[string]any); ok {
			head.Metadata.Name, _ = md["name"].(string)
			head.Metadata.Namespace, _ = md["namespace"].(string)
		}
		o.APIVersion, o.Kind, o.Name, o.Namespace = head.APIVersion, head.Kind, head.Metadata.Name, head.Metadata.Namespace
		if o.APIVersion == "" || o.Kind == "" {
			ps = append(ps, Problem{File: file, Line: body.Line, Message: fmt.Sprintf("document %d: apiVersion and kind are required", i+1)})
			continue
		}
		if o.Name == "" {
			ps = append(ps, Problem{File: file, Line: body.Line, Path: "metadata.name", Message: fmt.Sprintf("%s: metadata.name is required", o.Kind)})
		}
		gv, err := schema.ParseGroupVersion(o.APIVersion)
		if err != nil {
			ps = append(ps, Problem{File: file, Line: body.Line, Path: "apiVersion", Message: err.Error()})
			continue
		}
		if mk, ok := knownKinds[gv.WithKind(o.Kind)]; ok {
			typed := mk()
			pos, errs := strictyaml.Decode(doc, typed, "")
			o.Obj, o.Positions = typed, pos
			for _, p := range fromDecode(file, errs) {
				p.Message = fmt.Sprintf("%s %q: %s", o.Kind, o.Name, p.Message)
				ps = append(ps, p)
			}
		} else {
			o.Obj = &unstructured.Unstructured{Object: m}
			o.Positions, _ = strictyaml.Decode(doc, new(any), "")
		}
		out = append(out, o)
	}
	return out, ps.Err()
}

// Filter returns the objects of one kind.
func Filter(objs []Object, kind string) []Object {
	var out []Object
	for _, o := range objs {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// NodeProviderDoc is a NodeProvider with where it came from.
type NodeProviderDoc struct {
	Object
	Provider *mgmtv1.NodeProvider
}

// LoadNodeProvidersFile reads a NodeProvider manifest file.
func LoadNodeProvidersFile(path string) ([]NodeProviderDoc, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return LoadNodeProviders(path, data)
}

// LoadNodeProviders parses one or more NodeProvider documents strictly and
// validates them. Documents of other kinds are errors.
func LoadNodeProviders(file string, data []byte) ([]NodeProviderDoc, error) {
	objs, err := LoadObjects(file, data)
	var ps Problems
	if err != nil {
		ps = append(ps, asProblems(err)...)
	}
	var out []NodeProviderDoc
	seen := map[string]int{}
	for _, o := range objs {
		np, ok := o.Obj.(*mgmtv1.NodeProvider)
		if !ok {
			ps = append(ps, Problem{File: file, Line: o.Line, Path: "kind",
				Message: fmt.Sprintf("expected a NodeProvider (%s), got %s %s", mgmtv1.SchemeGroupVersion, o.APIVersion, o.Kind)})
			continue
		}
		if prev, dup := seen[np.Name]; dup && np.Name != "" {
			ps = append(ps, o.Problem("metadata.name", "NodeProvider %q is defined twice (also at line %d)", np.Name, prev))
		}
		seen[np.Name] = o.Line
		d := NodeProviderDoc{Object: o, Provider: np}
		for _, p := range d.Validate() {
			ps = append(ps, withRule(p, RuleNodeProvider))
		}
		out = append(out, d)
	}
	return out, ps.Err()
}

// Validate checks a NodeProvider: exactly one provider block; node type
// names present and unique; properties are valid node labels (they become
// labels); metal3 needs clusterRef.cluster and .namespace (where its
// BareMetalHosts live) and a valid host selector.
func (d *NodeProviderDoc) Validate() Problems {
	var ps Problems
	spec := &d.Provider.Spec
	if _, err := spec.Kind(); err != nil {
		ps = append(ps, d.Problem("spec", "%v", err))
	}
	ps = append(ps, propertyProblems(&d.Object, "spec.properties", spec.Properties)...)
	if spec.Metal3 != nil && spec.Metal3.ClusterRef.Cluster == "" {
		ps = append(ps, d.Problem("spec.metal3.clusterRef", "clusterRef.cluster is required"))
	}
	if spec.Metal3 != nil && spec.Metal3.ClusterRef.Namespace == "" {
		ps = append(ps, d.Problem("spec.metal3.clusterRef", "clusterRef.namespace is required (the namespace of the BareMetalHosts)"))
	}
	names := map[string]string{}
	for _, t := range spec.InlineNodeTypes() {
		p := "spec." + t.Path
		switch prev, dup := names[t.Name]; {
		case t.Name == "":
			ps = append(ps, d.Problem(p, "node type name is required"))
		case dup:
			ps = append(ps, d.Problem(p+".name", "node type %q is already defined at %s", t.Name, prev))
		default:
			names[t.Name] = p
			if errs := validationIsDNS1123Subdomain(t.Name); len(errs) > 0 {
				ps = append(ps, d.Problem(p+".name", "node type name %q is not a valid object name: %s", t.Name, strings.Join(errs, "; ")))
			}
		}
		ps = append(ps, propertyProblems(&d.Object, p+".properties", t.Properties)...)
		if t.HostSelector != nil {
			if _, err := labelSelector(t.HostSelector); err != nil {
				ps = append(ps, d.Problem(p+".bareMetalHosts.selector", "invalid label selector: %v", err))
			}
		}
		if t.Cost < 0 {
			ps = append(ps, d.Problem(p+".cost", "cost must be >= 0"))
		}
	}
	return ps
}
