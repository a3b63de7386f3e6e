// Node type selection: the cheapest node type of a pool's provider that
// meets the pool's and the pod's requirements, fits the pod, stays within
// the pool's limits and has free capacity (and the faults that get this
// choice wrong).

package platform

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"

	mgmt "github.com/cctest/cctest/api/management/v1"
)

// selectNodeType picks the node type for a pool, the pod's own
// requirements and its resource requests (both nil for a static pool). When
// none fits it returns the reasons, one per rejected type, for the pod's
// FailedScheduling Event.
func (p *Platform) selectNodeType(ctx context.Context, v *view, pool Pool, podReqs []mgmt.Requirement, requests corev1.ResourceList) (*mgmt.NodeType, []string, error) {
	all, err := p.nodeTypes(ctx, v, pool.Provider)
	if err != nil {
		return nil, []string{err.Error()}, err
	}
	var reasons []string
	var types []mgmt.NodeType
	for _, t := range all {
		if why := p.overLimits(pool, &t); why != "" {
			reasons = append(reasons, t.Name+": "+why)
			continue
		}
		types = append(types, t)
	}
	reqs := append([]mgmt.Requirement{}, p.effective(pool.Requirements)...)
	for _, r := range podReqs {
		// A pod asking what the pool already requires adds nothing (and
		// would name the same requirement twice in a rejection reason).
		if !slices.ContainsFunc(reqs, func(have mgmt.Requirement) bool { return have.String() == r.String() }) {
			reqs = append(reqs, r)
		}
	}
	chosen, rejections := p.choose(types, reqs, requests)
	if chosen == nil {
		for _, r := range rejections {
			reasons = append(reasons, r.String())
		}
		if len(all) == 0 {
			reasons = append(reasons, "provider "+pool.Provider+" has no node types")
		}
		return nil, reasons, fmt.Errorf("no matching node type")
	}
	return chosen, nil, nil
}

// effective applies the autonodes-ignores-operator fault: every operator
// is read as In (with the requirement's values).
func (p *Platform) effective(reqs []mgmt.Requirement) []mgmt.Requirement {
	if !p.cfg.Faults.Has(FaultAutoNodesIgnoresOperator) {
		return reqs
	}
	out := make([]mgmt.Requirement, len(reqs))
	for i, r := range reqs {
		out[i] = mgmt.Requirement{Property: r.Property, Operator: mgmt.OpIn, Values: r.AllValues()}
		if len(out[i].Values) == 0 {
			// Exists / DoesNotExist carry no values: read as "any value".
			out[i] = mgmt.Requirement{Property: r.Property, Operator: mgmt.OpExists}
		}
	}
	return out
}

// choose picks the cheapest matching type with capacity; the
// autonodes-wrong-type fault picks the most expensive instead.
func (p *Platform) choose(types []mgmt.NodeType, reqs []mgmt.Requirement, requests corev1.ResourceList) (*mgmt.NodeType, []mgmt.Rejection) {
	chosen, rejections := mgmt.SelectCheapest(types, reqs, requests, mgmt.HasFreeCapacity)
	if chosen == nil || !p.cfg.Faults.Has(FaultAutoNodesWrongType) {
		return chosen, rejections
	}
	for i := range types {
		t := &types[i]
		if len(t.Eligible(reqs, requests, mgmt.HasFreeCapacity)) == 0 && t.Cost() > chosen.Cost() {
			chosen = t
		}
	}
	return chosen, rejections
}

// overLimits says why one more node of the type would take the pool past
// its limits (the resources of its nodes summed, as Karpenter counts them).
func (p *Platform) overLimits(pool Pool, t *mgmt.NodeType) string {
	if len(pool.Limits) == 0 {
		return ""
	}
	used := corev1.ResourceList{}
	p.mu.Lock()
	for _, c := range p.claims {
		if c.pool.Name == pool.Name && !c.failed {
			for name, q := range c.resources {
				sum := used[name]
				sum.Add(q)
				used[name] = sum
			}
		}
	}
	p.mu.Unlock()
	for _, name := range mgmt.SortedResourceNames(pool.Limits) {
		add, ok := t.Spec.Resources[name]
		if !ok {
			continue
		}
		limit, sum := pool.Limits[name], used[name]
		sum.Add(add)
		if sum.Cmp(limit) > 0 {
			in := used[name]
			return fmt.Sprintf("pool limit %s %s reached (%s in use, the type adds %s)", name, limit.String(), in.String(), add.String())
		}
	}
	return ""
}

func (p *Platform) nodeTypes(ctx context.Context, v *view, provider string) ([]mgmt.NodeType, error) {
	if err := p.load(ctx, v); err != nil {
		return nil, err
	}
	var out []mgmt.NodeType
	for _, t := range v.types {
		if t.Spec.ProviderRef == provider {
			// Capacity comes from our own inventory, not from a status
			// another platform instance may have written.
			t.Status.Capacity = p.capacity(v.hosts, &t)
			out = append(out, t)
		}
	}
	return out, nil
}
