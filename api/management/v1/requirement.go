package v1

import (
	"fmt"
	"strconv"
	"strings"
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

// Validate applies vCluster's rules and returns every problem found.
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
	case OpIn, OpNotIn:
		if n == 0 {
			add("values", "operator %s needs at least one value", op)
		}
	case OpExists, OpDoesNotExist:
		if n > 0 {
			add("values", "operator %s takes no values", op)
		}
	case OpGt, OpLt:
		if n != 1 {
			add("values", "operator %s needs exactly one value, got %d", op, n)
		} else if _, err := strconv.ParseInt(r.AllValues()[0], 10, 64); err != nil {
			add("values", "operator %s needs an integer value, got %q", op, r.AllValues()[0])
		}
	case "NotExists":
		add("operator", `operator "NotExists" is not supported by vCluster (some docs use it); use "DoesNotExist"`)
	default:
		add("operator", "unsupported operator %q (allowed: In, NotIn, Exists, DoesNotExist, Gt, Lt)", string(op))
	}
	return ps
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

// Matches evaluates the requirement against a property set (use
// SelectableProperties for a node type). On a miss it says why.
// An invalid requirement never matches.
func (r Requirement) Matches(props map[string]string) (bool, string) {
	if ps := r.Validate(); len(ps) > 0 {
		return false, fmt.Sprintf("invalid requirement %s: %s", r, ps[0])
	}
	v, ok := props[r.Property]
	switch op := r.EffectiveOperator(); op {
	case OpIn:
		if !ok {
			return false, fmt.Sprintf("%s: property not set", r)
		}
		for _, want := range r.AllValues() {
			if v == want {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%s: property is %q", r, v)
	case OpNotIn:
		for _, bad := range r.AllValues() {
			if ok && v == bad {
				return false, fmt.Sprintf("%s: property is %q", r, v)
			}
		}
		return true, ""
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
	default: // Gt, Lt
		if !ok {
			return false, fmt.Sprintf("%s: property not set", r)
		}
		have, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return false, fmt.Sprintf("%s: property %q is not an integer", r, v)
		}
		limit, _ := strconv.ParseInt(r.AllValues()[0], 10, 64)
		if (op == OpGt && have > limit) || (op == OpLt && have < limit) {
			return true, ""
		}
		return false, fmt.Sprintf("%s: property is %d", r, have)
	}
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
