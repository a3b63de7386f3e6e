package suites

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/attest/gatetrace"
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

// unearnedTEE says why a node advertising a TEE shows no proof that its
// hardware has one ("" when it does): a Confidential VM node carries a gate
// trace holding evidence of that TEE; a bare-metal host carries the node
// feature labels of that TEE's host support (see hostCapabilityLabels).
// Labels alone prove nothing: a platform may copy them from another node
// type.
func (s *suite) unearnedTEE(ctx context.Context, n *corev1.Node) string {
	tee := n.Labels[mgmt.PropertyConfidentialCompute]
	switch s.confidentialPath(ctx, n) {
	case mgmt.PathCloudVM:
		a, ok := n.Annotations[gatetrace.Annotation]
		if !ok {
			return fmt.Sprintf("node %s advertises %s=%s without proof: no gate trace (%s)", n.Name, mgmt.PropertyConfidentialCompute, tee, gatetrace.Annotation)
		}
		t, err := gatetrace.Decode(a)
		if err != nil {
			return fmt.Sprintf("node %s advertises %s=%s without proof: its gate trace does not decode: %v", n.Name, mgmt.PropertyConfidentialCompute, tee, err)
		}
		if t.Evidence.TEE != tee {
			return fmt.Sprintf("node %s advertises %s=%s without proof: its gate trace holds %q evidence", n.Name, mgmt.PropertyConfidentialCompute, tee, t.Evidence.TEE)
		}
	case mgmt.PathPodRuntime:
		var missing []string
		for _, l := range hostCapabilityLabels[tee] {
			if n.Labels[l] != "true" {
				missing = append(missing, l)
			}
		}
		if len(missing) > 0 {
			return fmt.Sprintf("node %s advertises %s=%s without proof: it lacks that TEE's host support labels %s", n.Name, mgmt.PropertyConfidentialCompute, tee, strings.Join(missing, ", "))
		}
	}
	return ""
}
