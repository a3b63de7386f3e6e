// Host claims: binding a free BareMetalHost to a claim (consumerRef), releasing
// it, and quarantining one the gate refused. These are the platform's only
// writes to the inventory after Setup.

package platform

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	mgmt "github.com/cctest/cctest/api/management/v1"
)

// claimHost binds a free host of the node type to a new claim by setting
// its consumerRef (optimistic concurrency makes the claim exclusive).
func (p *Platform) claimHost(ctx context.Context, v *view, nt *mgmt.NodeType, claim string) (string, error) {
	if err := p.load(ctx, v); err != nil {
		return "", err
	}
	if p.cloudVM(nt) {
		return p.claimCVM(nt, claim)
	}
	hosts := v.hosts
	free := freeHostsFor(hosts, p.hostSelector(nt.Name), nt)
	if p.cfg.Faults.Has(FaultNodeSharedAcrossTenants) {
		// The fault hands out a host that another claim already uses.
		for _, h := range hosts {
			if h.Spec.ConsumerRef != nil && h.Annotations[AnnotationQuarantine] == "" && p.hostSelector(nt.Name).Matches(labels.Set(h.Labels)) {
				free = append([]mgmt.BareMetalHost{h}, free...)
				break
			}
		}
	}
	for _, h := range free {
		ref := map[string]any{"apiVersion": mgmt.SchemeGroupVersion.String(), "kind": mgmt.KindNodeClaim, "namespace": p.cfg.ClaimNamespace(), "name": claim}
		if h.Spec.ConsumerRef == nil && p.claimListed(ctx, h, ref) {
			p.markClaimed(v, h.Name, claim)
			return h.Name, nil
		}
		u, err := p.dyn.Resource(mgmt.BareMetalHostResource).Namespace(h.Namespace).Get(ctx, h.Name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		// Another tenant's platform may have claimed it since this pass
		// listed the inventory: never take a host with a consumer.
		if cur, found, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "consumerRef"); found && cur != nil && !p.cfg.Faults.Has(FaultNodeSharedAcrossTenants) {
			continue
		}
		if err := unstructuredSet(u.Object, ref, "spec", "consumerRef"); err != nil {
			return "", err
		}
		if _, err := p.dyn.Resource(mgmt.BareMetalHostResource).Namespace(h.Namespace).Update(ctx, u, metav1.UpdateOptions{}); err == nil {
			p.markClaimed(v, h.Name, claim)
			return h.Name, nil
		}
	}
	return "", fmt.Errorf("no free BareMetalHost (capacity exhausted)")
}

// claimListed claims a host as this pass listed it, in one request: a JSON
// patch that applies only while the host's resourceVersion is still the
// listed one (anyone's write since makes it fail, and the caller re-reads).
func (p *Platform) claimListed(ctx context.Context, h mgmt.BareMetalHost, ref map[string]any) bool {
	if h.ResourceVersion == "" {
		return false
	}
	patch, err := json.Marshal([]map[string]any{
		{"op": "test", "path": "/metadata/resourceVersion", "value": h.ResourceVersion},
		{"op": "add", "path": "/spec/consumerRef", "value": ref},
	})
	if err != nil {
		return false
	}
	_, err = p.dyn.Resource(mgmt.BareMetalHostResource).Namespace(h.Namespace).Patch(ctx, h.Name, types.JSONPatchType, patch, metav1.PatchOptions{})
	return err == nil
}

// markClaimed records a claim in the pass's view of the inventory.
func (p *Platform) markClaimed(v *view, host, claim string) {
	for i := range v.hosts {
		if v.hosts[i].Name == host {
			v.hosts[i].Spec.ConsumerRef = &corev1.ObjectReference{Kind: mgmt.KindNodeClaim, Namespace: p.cfg.ClaimNamespace(), Name: claim}
		}
	}
}

// releaseHost frees a host for the next claim.
func (p *Platform) releaseHost(ctx context.Context, name string) error {
	if m := p.machines[name]; m != nil && m.NodeType != "" {
		p.releaseCVM(m, false)
		return nil
	}
	u, err := p.dyn.Resource(mgmt.BareMetalHostResource).Namespace(p.cfg.InventoryNamespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("release host %s: %w", name, err)
	}
	if spec, ok := u.Object["spec"].(map[string]any); ok {
		delete(spec, "consumerRef")
	}
	if _, err := p.dyn.Resource(mgmt.BareMetalHostResource).Namespace(p.cfg.InventoryNamespace).Update(ctx, u, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("release host %s: %w", name, err)
	}
	return nil
}

// quarantine marks a host that failed the gate; it is never offered again.
func (p *Platform) quarantine(ctx context.Context, name, reason string) error {
	u, err := p.dyn.Resource(mgmt.BareMetalHostResource).Namespace(p.cfg.InventoryNamespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("quarantine host %s: %w", name, err)
	}
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationQuarantine] = reason
	u.SetAnnotations(ann)
	if _, err := p.dyn.Resource(mgmt.BareMetalHostResource).Namespace(p.cfg.InventoryNamespace).Update(ctx, u, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("quarantine host %s: %w", name, err)
	}
	return nil
}

func unstructuredSet(obj map[string]any, value any, fields ...string) error {
	m := obj
	for _, f := range fields[:len(fields)-1] {
		next, ok := m[f].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[f] = next
		}
		m = next
	}
	m[fields[len(fields)-1]] = value
	return nil
}
