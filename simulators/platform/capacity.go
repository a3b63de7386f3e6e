// Inventory view and NodeType capacity: one reading of hosts and node types
// per reconcile pass, and the capacity status each NodeType publishes.

package platform

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	mgmt "github.com/cctest/cctest/api/management/v1"
)

// view is one reconcile pass's reading of the inventory and the node
// types. Reading them once per pass, not once per pod, keeps provisioning
// linear at thousands of hosts; hosts this pass claims are marked in it.
type view struct {
	loaded bool
	hosts  []mgmt.BareMetalHost
	types  []mgmt.NodeType // sorted by name
}

func (p *Platform) load(ctx context.Context, v *view) error {
	if v.loaded {
		return nil
	}
	hosts, err := p.listHosts(ctx)
	if err != nil {
		return err
	}
	if v.types, err = p.refreshCapacity(ctx, hosts); err != nil {
		return err
	}
	sort.Slice(v.types, func(i, j int) bool { return v.types[i].Name < v.types[j].Name })
	v.hosts, v.loaded = hosts, true
	return nil
}

// hostSelector returns the BareMetalHost selector of a metal3 node type.
func (p *Platform) hostSelector(nodeType string) labels.Selector {
	for _, np := range p.cfg.Providers {
		for _, t := range np.Spec.InlineNodeTypes() {
			if t.Name == nodeType && t.HostSelector != nil {
				if sel, err := metav1.LabelSelectorAsSelector(t.HostSelector); err == nil {
					return sel
				}
			}
		}
	}
	return labels.Nothing()
}

// refreshCapacity writes each NodeType's capacity: matching usable hosts
// (total) and hosts claimed by a node. It returns the node types it read.
func (p *Platform) refreshCapacity(ctx context.Context, hosts []mgmt.BareMetalHost) ([]mgmt.NodeType, error) {
	list, err := p.dyn.Resource(mgmt.NodeTypeResource).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	types := make([]mgmt.NodeType, 0, len(list.Items))
	for i := range list.Items {
		t, err := mgmt.NodeTypeFrom(&list.Items[i])
		if err != nil {
			return nil, err
		}
		types = append(types, *t)
		capa := p.capacity(hosts, t)
		total, claimed := capa.Total, capa.Claimed
		want := mgmt.NodeTypeStatus{Phase: mgmt.PhaseAvailable, Cost: t.Cost(), Capacity: capa}
		hasCap := corev1.ConditionTrue
		if total-claimed <= 0 {
			hasCap = corev1.ConditionFalse
		}
		want.Conditions = []mgmt.Condition{
			cond(mgmt.ConditionSynced, corev1.ConditionTrue, mgmt.SeverityInfo, "Synced", ""),
			cond(mgmt.ConditionHasCapacity, hasCap, mgmt.SeverityInfo, "Inventory", fmt.Sprintf("%d of %d hosts free", total-claimed, total)),
		}
		if t.Status.Capacity == want.Capacity && t.Status.Phase == want.Phase && t.Status.Cost == want.Cost {
			continue
		}
		// Keep transition times stable when the status is the same.
		t.Status = want
		types[len(types)-1].Status = want
		u, err := mgmt.ToUnstructured(t)
		if err != nil {
			return nil, err
		}
		if _, err := p.dyn.Resource(mgmt.NodeTypeResource).UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
			return nil, err
		}
	}
	return types, nil
}

// capacity of a metal3 node type: the hosts that can serve it (see
// serves) in total, and those claimed.
func (p *Platform) capacity(hosts []mgmt.BareMetalHost, nt *mgmt.NodeType) mgmt.NodeTypeCapacity {
	if p.cloudVM(nt) {
		return p.cvmCapacity(nt)
	}
	sel := p.hostSelector(nt.Name)
	var c mgmt.NodeTypeCapacity
	for i := range hosts {
		h := &hosts[i]
		if !serves(h, sel, nt) || (!h.Available() && h.Spec.ConsumerRef == nil) {
			continue
		}
		c.Total++
		if h.Spec.ConsumerRef != nil {
			c.Claimed++
		}
	}
	return c
}

// serves: the host matches the type's selector, is not quarantined and its
// hardware holds the type's resources. Metal3 capacity counts such hosts
// when they are AVAILABLE (or already claimed).
func serves(h *mgmt.BareMetalHost, sel labels.Selector, nt *mgmt.NodeType) bool {
	return sel.Matches(labels.Set(h.Labels)) && h.Annotations[AnnotationQuarantine] == "" && h.Holds(nt.Spec.Resources)
}
