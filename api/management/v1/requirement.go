package v1

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Requirement is one entry of a nodeTypeSelector (vCluster's
// KarpenterRequirement) or of a NodeClaim's requirements.
type Requirement struct {
	Property string   `json:"property"`
	Operator Operator `json:"operator,omitempty"`
	Values   []string `json:"values,omitempty"`
	Value    string   `json:"value,omitempty"`
}

// Operator of a Requirement; "" means In.
type Operator string

const (
	OpIn           Operator = "In"
	OpNotIn        Operator = "NotIn"
	OpExists       Operator = "Exists"
	OpDoesNotExist Operator = "DoesNotExist"
	OpGt           Operator = "Gt"
	OpLt           Operator = "Lt"
)

// AllowedOperators are the operators vCluster accepts (plus "" = In).
var AllowedOperators = []Operator{OpIn, OpNotIn, OpExists, OpDoesNotExist, OpGt, OpLt}

// FieldProblem is a validation problem of one field, relative to the
// requirement (Field "operator", "values", ...).
type FieldProblem struct {
	Field   string
	Message string
}

func (p FieldProblem) String() string { return p.Field + ": " + p.Message }

// EffectiveOperator maps "" to In.
func (r Requirement) EffectiveOperator() Operator {
	if r.Operator == "" {
		return OpIn
	}
	return r.Operator
}

// AllValues merges value and values (they are exclusive, see Validate).
func (r Requirement) AllValues() []string {
	if r.Value != "" {
		return append([]string{r.Value}, r.Values...)
	}
	return r.Values
}

// Validate applies vCluster's rules and returns every problem found. Gt/Lt
// take one or more values and vCluster does not check they are integers;
// KarpenterProblems adds what a dynamic pool's Karpenter NodePool needs.
func (r Requirement) Validate() []FieldProblem {
	var ps []FieldProblem
	add := func(f, format string, a ...any) { ps = append(ps, FieldProblem{f, fmt.Sprintf(format, a...)}) }
	if strings.TrimSpace(r.Property) == "" {
		add("property", "required")
	}
	if r.Value != "" && len(r.Values) > 0 {
		add("value", "value and values are mutually exclusive; set one")
	}
	n := len(r.AllValues())
	switch op := r.EffectiveOperator(); op {
	case OpIn, OpNotIn, OpGt, OpLt:
		if n == 0 {
			add("values", "operator %s needs at least one value", op)
		}
	case OpExists, OpDoesNotExist:
		if n > 0 {
			add("values", "operator %s takes no values", op)
		}
	case "NotExists":
		add("operator", `operator "NotExists" is not supported by vCluster (some docs use it); use "DoesNotExist"`)
	default:
		add("operator", "unsupported operator %q (allowed: In, NotIn, Exists, DoesNotExist, Gt, Lt)", string(op))
	}
	return ps
}

// KarpenterProblems: a dynamic pool becomes a Karpenter NodePool, whose
// Gt/Lt need exactly one non-negative integer.
func (r Requirement) KarpenterProblems() []FieldProblem {
	op := r.EffectiveOperator()
	if op != OpGt && op != OpLt {
		return nil
	}
	vs := r.AllValues()
	if len(vs) != 1 {
		return []FieldProblem{{"values", fmt.Sprintf("a dynamic pool becomes a Karpenter NodePool, whose %s needs exactly one value, got %d", op, len(vs))}}
	}
	if n, err := strconv.ParseInt(vs[0], 10, 64); err != nil || n < 0 {
		return []FieldProblem{{"values", fmt.Sprintf("a dynamic pool becomes a Karpenter NodePool, which needs a non-negative integer for %s, got %s", op, vs[0])}}
	}
	return nil
}

// NodeSelector is the requirement in the shape a NodeClaim carries it
// (corev1.NodeSelectorRequirement: key, operator, values).
func (r Requirement) NodeSelector() corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{Key: r.Property, Operator: corev1.NodeSelectorOperator(r.EffectiveOperator()), Values: r.AllValues()}
}

// NodeSelectors converts a list (nil stays nil).
func NodeSelectors(reqs []Requirement) []corev1.NodeSelectorRequirement {
	var out []corev1.NodeSelectorRequirement
	for _, r := range reqs {
		out = append(out, r.NodeSelector())
	}
	return out
}

// String renders the requirement the way messages show it.
func (r Requirement) String() string {
	op := r.EffectiveOperator()
	switch op {
	case OpExists, OpDoesNotExist:
		return fmt.Sprintf("%s %s", r.Property, op)
	}
	return fmt.Sprintf("%s %s [%s]", r.Property, op, strings.Join(r.AllValues(), ","))
}

// AnyValue is the property value that stands for every value.
const AnyValue = "*"

// propertyValues reads a node type property as a set: "a,b" holds a and b,
// "*" holds every value (any = true).
func propertyValues(v string) (set []string, any bool) {
	for _, x := range strings.Split(v, ",") {
		x = strings.TrimSpace(x)
		if x == AnyValue {
			return nil, true
		}
		if x != "" {
			set = append(set, x)
		}
	}
	return set, false
}

// Matches evaluates the requirement against a property set (use
// SelectableProperties for a node type) with Kubernetes set semantics over
// the property's values (see propertyValues): the type can serve the
// requirement when some value it offers satisfies it. On a miss it says
// why. An invalid requirement never matches.
//
// Gt/Lt with several values (vCluster allows it on static pools): every
// bound must hold, i.e. Gt uses the largest value and Lt the smallest — the
// strict reading never hands a pool a node outside a bound it stated.
func (r Requirement) Matches(props map[string]string) (bool, string) {
	if ps := r.Validate(); len(ps) > 0 {
		return false, fmt.Sprintf("invalid requirement %s: %s", r, ps[0])
	}
	v, ok := props[r.Property]
	have, any := propertyValues(v)
	op := r.EffectiveOperator()
	switch op {
	case OpIn:
		if !ok {
			return false, fmt.Sprintf("%s: property not set", r)
		}
		if any || slices.ContainsFunc(have, func(x string) bool { return slices.Contains(r.AllValues(), x) }) {
			return true, ""
		}
		return false, fmt.Sprintf("%s: property is %q", r, v)
	case OpNotIn:
		if !ok || any || slices.ContainsFunc(have, func(x string) bool { return !slices.Contains(r.AllValues(), x) }) {
			return true, ""
		}
		return false, fmt.Sprintf("%s: property is %q", r, v)
	case OpExists:
		if !ok {
			return false, fmt.Sprintf("%s: property not set", r)
		}
		return true, ""
	case OpDoesNotExist:
		if ok {
			return false, fmt.Sprintf("%s: property is set (%q)", r, v)
		}
		return true, ""
	}
	// Gt, Lt
	if !ok {
		return false, fmt.Sprintf("%s: property not set", r)
	}
	var bound int64
	for i, s := range r.AllValues() {
		b, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return false, fmt.Sprintf("%s: bound %q is not an integer", r, s)
		}
		if i == 0 || (op == OpGt && b > bound) || (op == OpLt && b < bound) {
			bound = b
		}
	}
	if any {
		return true, ""
	}
	for _, x := range have {
		n, err := strconv.ParseInt(x, 10, 64)
		if err == nil && ((op == OpGt && n > bound) || (op == OpLt && n < bound)) {
			return true, ""
		}
	}
	return false, fmt.Sprintf("%s: property is %q", r, v)
}

// MatchAll evaluates every requirement; it returns the reasons of all misses.
func MatchAll(reqs []Requirement, props map[string]string) (bool, []string) {
	var why []string
	for _, r := range reqs {
		if ok, reason := r.Matches(props); !ok {
			why = append(why, reason)
		}
	}
	return len(why) == 0, why
}
