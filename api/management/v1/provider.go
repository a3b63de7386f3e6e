package v1

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kinds lists the provider blocks set in the spec (a valid spec has one).
func (s *NodeProviderSpec) Kinds() []ProviderKind {
	var ks []ProviderKind
	if s.BCM != nil {
		ks = append(ks, ProviderBCM)
	}
	if s.KubeVirt != nil {
		ks = append(ks, ProviderKubeVirt)
	}
	if s.Terraform != nil {
		ks = append(ks, ProviderTerraform)
	}
	if s.ClusterAPI != nil {
		ks = append(ks, ProviderClusterAPI)
	}
	if s.Metal3 != nil {
		ks = append(ks, ProviderMetal3)
	}
	return ks
}

// Kind returns the single provider kind, or an error naming the problem.
func (s *NodeProviderSpec) Kind() (ProviderKind, error) {
	ks := s.Kinds()
	switch len(ks) {
	case 1:
		return ks[0], nil
	case 0:
		return "", fmt.Errorf("no provider set: set exactly one of bcm, kubeVirt, terraform, clusterAPI, metal3")
	default:
		names := make([]string, len(ks))
		for i, k := range ks {
			names[i] = string(k)
		}
		return "", fmt.Errorf("several providers set (%s): set exactly one", strings.Join(names, ", "))
	}
}

// InlineNodeType is a node type declared inside a NodeProvider, with where
// it sits (YAML path relative to the provider's spec) for messages.
type InlineNodeType struct {
	NodeTypeDefinition
	Kind ProviderKind
	// Path like "metal3.nodeTypes[0]" (relative to spec).
	Path string
	// HostSelector is set for metal3 node types.
	HostSelector *metav1.LabelSelector
	// MaxCapacity is set by VM providers (0 = not limited by the spec).
	MaxCapacity int
}

// InlineNodeTypes lists the node types every provider block declares.
func (s *NodeProviderSpec) InlineNodeTypes() []InlineNodeType {
	var out []InlineNodeType
	path := func(k ProviderKind, i int) string { return fmt.Sprintf("%s.nodeTypes[%d]", k, i) }
	if s.Metal3 != nil {
		for i, t := range s.Metal3.NodeTypes {
			out = append(out, InlineNodeType{NodeTypeDefinition: t.NodeTypeDefinition, Kind: ProviderMetal3,
				Path: path(ProviderMetal3, i), HostSelector: t.BareMetalHosts.Selector})
		}
	}
	if s.Terraform != nil {
		for i, t := range s.Terraform.NodeTypes {
			out = append(out, InlineNodeType{NodeTypeDefinition: t.NodeTypeDefinition, Kind: ProviderTerraform,
				Path: path(ProviderTerraform, i), MaxCapacity: t.MaxCapacity})
		}
	}
	if s.ClusterAPI != nil {
		for i, t := range s.ClusterAPI.NodeTypes {
			out = append(out, InlineNodeType{NodeTypeDefinition: t.NodeTypeDefinition, Kind: ProviderClusterAPI,
				Path: path(ProviderClusterAPI, i), MaxCapacity: t.MaxCapacity})
		}
	}
	if s.KubeVirt != nil {
		for i, t := range s.KubeVirt.NodeTypes {
			out = append(out, InlineNodeType{NodeTypeDefinition: t.NodeTypeDefinition, Kind: ProviderKubeVirt,
				Path: path(ProviderKubeVirt, i), MaxCapacity: t.MaxCapacity})
		}
	}
	if s.BCM != nil {
		for i, t := range s.BCM.NodeTypes {
			out = append(out, InlineNodeType{NodeTypeDefinition: t.NodeTypeDefinition, Kind: ProviderBCM,
				Path: path(ProviderBCM, i)})
		}
	}
	return out
}

// NodeTypeObjects are the NodeType objects the platform derives from the
// provider's inline node types (status left empty).
func (p *NodeProvider) NodeTypeObjects() []NodeType {
	var out []NodeType
	for _, t := range p.Spec.InlineNodeTypes() {
		nt := NodeType{
			TypeMeta:   metav1.TypeMeta{APIVersion: SchemeGroupVersion.String(), Kind: KindNodeType},
			ObjectMeta: metav1.ObjectMeta{Name: t.Name},
			Spec: NodeTypeSpec{ProviderRef: p.Name, DisplayName: t.DisplayName, Properties: t.Properties,
				Resources: t.Resources, Overhead: t.Overhead, Cost: t.Cost},
		}
		if t.Metadata != nil {
			nt.Labels, nt.Annotations = t.Metadata.Labels, t.Metadata.Annotations
		}
		out = append(out, nt)
	}
	return out
}
