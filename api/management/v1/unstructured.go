package v1

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// FromUnstructured converts an object read through the dynamic client into
// one of this package's types (pass a pointer, e.g. &NodeClaim{}).
func FromUnstructured(u *unstructured.Unstructured, into any) error {
	if u == nil {
		return fmt.Errorf("nil object")
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
		return fmt.Errorf("convert %s %q: %w", u.GetKind(), u.GetName(), err)
	}
	return nil
}

// ToUnstructured converts one of this package's types (a pointer) for the
// dynamic client. apiVersion and kind must already be set on the object.
func ToUnstructured(obj any) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// NodeProviderFrom, NodeTypeFrom, NodeClaimFrom and BareMetalHostFrom are
// typed shorthands for FromUnstructured.
func NodeProviderFrom(u *unstructured.Unstructured) (*NodeProvider, error) {
	o := &NodeProvider{}
	return o, FromUnstructured(u, o)
}

func NodeTypeFrom(u *unstructured.Unstructured) (*NodeType, error) {
	o := &NodeType{}
	return o, FromUnstructured(u, o)
}

func NodeClaimFrom(u *unstructured.Unstructured) (*NodeClaim, error) {
	o := &NodeClaim{}
	return o, FromUnstructured(u, o)
}

func BareMetalHostFrom(u *unstructured.Unstructured) (*BareMetalHost, error) {
	o := &BareMetalHost{}
	return o, FromUnstructured(u, o)
}

// NewNodeType, NewNodeClaim and NewNodeProvider return objects with
// apiVersion and kind filled in.
func NewNodeType(name string) *NodeType {
	o := &NodeType{}
	o.APIVersion, o.Kind, o.Name = SchemeGroupVersion.String(), KindNodeType, name
	return o
}

func NewNodeClaim(namespace, name string) *NodeClaim {
	o := &NodeClaim{}
	o.APIVersion, o.Kind, o.Namespace, o.Name = SchemeGroupVersion.String(), KindNodeClaim, namespace, name
	return o
}

func NewNodeProvider(name string) *NodeProvider {
	o := &NodeProvider{}
	o.APIVersion, o.Kind, o.Name = SchemeGroupVersion.String(), KindNodeProvider, name
	return o
}

func NewBareMetalHost(namespace, name string) *BareMetalHost {
	o := &BareMetalHost{}
	o.APIVersion, o.Kind, o.Namespace, o.Name = Metal3GroupVersion.String(), KindBareMetalHost, namespace, name
	return o
}
