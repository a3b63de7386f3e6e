package v1

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Default cost model when a node type sets no cost (vCluster Platform docs):
// 10 per CPU plus 2 per GiB of memory.
const (
	CostPerCPU    = 10
	CostPerGiBMem = 2
)

// DefaultCost is the cost of resources under the default model. Fractional
// CPUs and memory count proportionally, rounded down.
func DefaultCost(res corev1.ResourceList) int64 {
	var c int64
	if cpu, ok := res[corev1.ResourceCPU]; ok {
		c += cpu.MilliValue() * CostPerCPU / 1000
	}
	if mem, ok := res[corev1.ResourceMemory]; ok {
		c += mem.Value() * CostPerGiBMem / (1 << 30)
	}
	return c
}

// CostOf is the explicit cost if set, else DefaultCost of the resources.
func CostOf(cost *int64, res corev1.ResourceList) int64 {
	if cost != nil {
		return *cost
	}
	return DefaultCost(res)
}

// Cost of a NodeType.
func (t *NodeType) Cost() int64 { return CostOf(t.Spec.Cost, t.Spec.Resources) }

// SelectableProperties of a NodeType (its properties plus built-ins).
func (t *NodeType) SelectableProperties() map[string]string {
	return SelectableProperties(t.Name, t.Spec.Properties)
}

// Rejection says why one node type was not chosen.
type Rejection struct {
	Type    string
	Reasons []string
}

func (r Rejection) String() string { return r.Type + ": " + strings.Join(r.Reasons, "; ") }

// SelectCheapest picks the cheapest node type whose properties satisfy every
// requirement and that has capacity (hasCapacity nil = unlimited). Ties go to
// the lexically smallest name so the choice is deterministic. It returns nil
// when nothing fits, and a rejection for every type not chosen that failed a
// requirement or had no capacity, in name order.
func SelectCheapest(types []NodeType, reqs []Requirement, hasCapacity func(*NodeType) bool) (*NodeType, []Rejection) {
	order := make([]*NodeType, len(types))
	for i := range types {
		order[i] = &types[i]
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].Name < order[j].Name })

	var chosen *NodeType
	var rejections []Rejection
	for _, t := range order {
		ok, why := MatchAll(reqs, t.SelectableProperties())
		if !ok {
			rejections = append(rejections, Rejection{Type: t.Name, Reasons: why})
			continue
		}
		if hasCapacity != nil && !hasCapacity(t) {
			rejections = append(rejections, Rejection{Type: t.Name, Reasons: []string{
				fmt.Sprintf("no free capacity (total %d, claimed %d)", t.Status.Capacity.Total, t.Status.Capacity.Claimed)}})
			continue
		}
		if chosen == nil || t.Cost() < chosen.Cost() {
			chosen = t
		}
	}
	return chosen, rejections
}

// HasFreeCapacity is a hasCapacity function reading NodeType status.
func HasFreeCapacity(t *NodeType) bool { return t.Status.Capacity.Free() > 0 }
