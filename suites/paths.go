package suites

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmt "github.com/cctest/cctest/api/management/v1"
)

// confidentialPath says where the TEE of a tenant node sits: the whole node
// (a cloud Confidential VM, attested by its bootstrap gate) or each Kata pod
// (a bare-metal host, checked for capability only). With host access it is
// decided from the node's NodeType and the kind of its NodeProvider, as the
// platform provisioned it; without, from the properties the node carries as
// labels (PathOf infers the provider-less case from the instance type).
func (s *suite) confidentialPath(ctx context.Context, n *corev1.Node) mgmt.ConfidentialPath {
	if !mgmt.IsConfidential(n.Labels) {
		return mgmt.PathNone
	}
	if s.c.HostDyn != nil {
		if kind, props, ok := s.nodeTypeOf(ctx, n.Labels[mgmt.PropertyNodeType]); ok {
			return mgmt.PathOf(kind, props)
		}
	}
	return mgmt.PathOf("", n.Labels)
}

// nodeTypeOf reads a NodeType and the kind of the NodeProvider it belongs to.
func (s *suite) nodeTypeOf(ctx context.Context, name string) (mgmt.ProviderKind, map[string]string, bool) {
	if name == "" {
		return "", nil, false
	}
	u, err := s.c.HostDyn.Resource(mgmt.NodeTypeResource).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", nil, false
	}
	nt, err := mgmt.NodeTypeFrom(u)
	if err != nil {
		return "", nil, false
	}
	pu, err := s.c.HostDyn.Resource(mgmt.NodeProviderResource).Get(ctx, nt.Spec.ProviderRef, metav1.GetOptions{})
	if err != nil {
		return "", nt.Spec.Properties, false
	}
	np, err := mgmt.NodeProviderFrom(pu)
	if err != nil {
		return "", nt.Spec.Properties, false
	}
	kind, err := np.Spec.Kind()
	if err != nil {
		return "", nt.Spec.Properties, false
	}
	return kind, nt.Spec.Properties, true
}
