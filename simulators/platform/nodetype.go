// Node type selection: the cheapest node type of a pool's provider that
// meets the pool's and the pod's requirements and has free capacity (and the
// faults that get this choice wrong).

package platform

import (
	"context"
	"fmt"
	"slices"

	mgmt "github.com/cctest/cctest/api/management/v1"
)

// selectNodeType picks the node type for a pool and the pod's own
// requirements (nil for a static pool). When none fits it returns the
// reasons, one per rejected type, for the pod's FailedScheduling Event.
func (p *Platform) selectNodeType(ctx context.Context, v *view, pool Pool, podReqs []mgmt.Requirement) (*mgmt.NodeType, []string, error) {
	types, err := p.nodeTypes(ctx, v, pool.Provider)
	if err != nil {
		return nil, []string{err.Error()}, err
	}
	reqs := append([]mgmt.Requirement{}, p.effective(pool.Requirements)...)
	for _, r := range podReqs {
		// A pod asking what the pool already requires adds nothing (and
		// would name the same requirement twice in a rejection reason).
		if !slices.ContainsFunc(reqs, func(have mgmt.Requirement) bool { return have.String() == r.String() }) {
			reqs = append(reqs, r)
		}
	}
	chosen, rejections := p.choose(types, reqs)
	if chosen == nil {
		var reasons []string
		for _, r := range rejections {
			reasons = append(reasons, r.String())
		}
		if len(types) == 0 {
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
func (p *Platform) choose(types []mgmt.NodeType, reqs []mgmt.Requirement) (*mgmt.NodeType, []mgmt.Rejection) {
	chosen, rejections := mgmt.SelectCheapest(types, reqs, mgmt.HasFreeCapacity)
	if chosen == nil || !p.cfg.Faults.Has(FaultAutoNodesWrongType) {
		return chosen, rejections
	}
	for i := range types {
		t := &types[i]
		if ok, _ := mgmt.MatchAll(reqs, t.SelectableProperties()); ok && mgmt.HasFreeCapacity(t) && t.Cost() > chosen.Cost() {
			chosen = t
		}
	}
	return chosen, rejections
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
			t.Status.Capacity = p.capacity(v.hosts, t.Name)
			out = append(out, t)
		}
	}
	return out, nil
}
