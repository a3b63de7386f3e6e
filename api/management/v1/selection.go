package v1

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Default cost model when a node type's cost is 0 / unset (vCluster Platform
// docs): 10 per CPU, 2 per GiB of memory, 10000 per unit of any other
// (extended) resource, so a GPU type is always dearer than any CPU type.
const (
	CostPerCPU      = 10
	CostPerGiBMem   = 2
	CostPerExtended = 10000
)

// Extended reports whether a resource is an extra one (nvidia.com/gpu, ...),
// not one every node has (cpu, memory, ephemeral-storage, pods).
func Extended(name corev1.ResourceName) bool {
	switch name {
	case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage, corev1.ResourcePods:
		return false
	}
	return true
}

// DefaultCost is the cost of resources under the default model. Fractional
// amounts count proportionally, rounded down.
func DefaultCost(res corev1.ResourceList) int64 {
	var c int64
	for name, q := range res {
		switch {
		case name == corev1.ResourceCPU:
			c += q.MilliValue() * CostPerCPU / 1000
		case name == corev1.ResourceMemory:
			c += q.Value() * CostPerGiBMem / (1 << 30)
		case Extended(name):
			c += q.MilliValue() * CostPerExtended / 1000
		}
	}
	return c
}

// CostOf is the explicit cost if set (> 0), else DefaultCost of the resources.
func CostOf(cost int64, res corev1.ResourceList) int64 {
	if cost > 0 {
		return cost
	}
	return DefaultCost(res)
}

// Cost of a NodeType.
func (t *NodeType) Cost() int64 { return CostOf(t.Spec.Cost, t.Spec.Resources) }

// Allocatable is what pods can use on a node of the type: its resources
// less the overhead it reserves (kubeReserved).
func (t *NodeType) Allocatable() corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, q := range t.Spec.Resources {
		q = q.DeepCopy()
		if t.Spec.Overhead != nil {
			if r, ok := t.Spec.Overhead.KubeReserved[name]; ok {
				q.Sub(r)
			}
		}
		out[name] = q
	}
	return out
}

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

// Misfit says why a node type cannot take a pod with these requests (nil
// requests = no pod, e.g. a static pool: nothing to fit). "" = it can.
func (t *NodeType) Misfit(requests corev1.ResourceList) string {
	if requests == nil {
		return ""
	}
	alloc := t.Allocatable()
	var why []string
	for _, name := range SortedResourceNames(requests) {
		want := requests[name]
		if name == corev1.ResourcePods || want.IsZero() {
			continue
		}
		if have, ok := alloc[name]; !ok || have.Cmp(want) < 0 {
			why = append(why, fmt.Sprintf("%s %s requested, %s allocatable", name, want.String(), orZero(have, ok)))
		}
	}
	// Karpenter keeps extra resources for the pods that ask for them.
	for _, name := range SortedResourceNames(t.Spec.Resources) {
		if _, asked := requests[name]; Extended(name) && !asked {
			why = append(why, fmt.Sprintf("has %s, which the pod does not request", name))
		}
	}
	return strings.Join(why, ", ")
}

func orZero(q resource.Quantity, ok bool) string {
	if !ok {
		return "0"
	}
	return q.String()
}

// SortedResourceNames returns the names of l in order (stable messages).
func SortedResourceNames(l corev1.ResourceList) []corev1.ResourceName {
	out := make([]corev1.ResourceName, 0, len(l))
	for n := range l {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Eligible lists why a node type cannot serve the requirements and the
// pod's requests, or has no capacity (hasCapacity nil = unlimited); empty
// means it can.
func (t *NodeType) Eligible(reqs []Requirement, requests corev1.ResourceList, hasCapacity func(*NodeType) bool) []string {
	if ok, why := MatchAll(reqs, t.SelectableProperties()); !ok {
		return why
	}
	if m := t.Misfit(requests); m != "" {
		return []string{"does not fit the pod: " + m}
	}
	if hasCapacity != nil && !hasCapacity(t) {
		return []string{fmt.Sprintf("no free capacity (total %d, claimed %d)", t.Status.Capacity.Total, t.Status.Capacity.Claimed)}
	}
	return nil
}

// SelectCheapest picks the cheapest eligible node type (see Eligible). Ties
// go to the lexically smallest name so the choice is deterministic. It
// returns nil when nothing fits, and a rejection for every type not
// eligible, in name order.
func SelectCheapest(types []NodeType, reqs []Requirement, requests corev1.ResourceList, hasCapacity func(*NodeType) bool) (*NodeType, []Rejection) {
	order := make([]*NodeType, len(types))
	for i := range types {
		order[i] = &types[i]
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].Name < order[j].Name })

	var chosen *NodeType
	var rejections []Rejection
	for _, t := range order {
		if why := t.Eligible(reqs, requests, hasCapacity); len(why) > 0 {
			rejections = append(rejections, Rejection{Type: t.Name, Reasons: why})
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
