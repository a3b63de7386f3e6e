package v1

import (
	"strings"
	"testing"
)

func TestRequirementOperators(t *testing.T) {
	props := map[string]string{"confidential-compute": "tdx", "cpu-gen": "5"}
	cases := []struct {
		name string
		r    Requirement
		want bool
	}{
		{"empty op is In, match", Requirement{Property: "confidential-compute", Values: []string{"tdx"}}, true},
		{"In match", Requirement{Property: "confidential-compute", Operator: OpIn, Values: []string{"sev-snp", "tdx"}}, true},
		{"In value form", Requirement{Property: "confidential-compute", Operator: OpIn, Value: "tdx"}, true},
		{"In miss", Requirement{Property: "confidential-compute", Operator: OpIn, Values: []string{"sev-snp"}}, false},
		{"In absent", Requirement{Property: "gpu", Operator: OpIn, Values: []string{"h100"}}, false},
		{"NotIn match", Requirement{Property: "confidential-compute", Operator: OpNotIn, Values: []string{"sev-snp"}}, true},
		{"NotIn absent matches", Requirement{Property: "gpu", Operator: OpNotIn, Values: []string{"h100"}}, true},
		{"NotIn miss", Requirement{Property: "confidential-compute", Operator: OpNotIn, Values: []string{"tdx"}}, false},
		{"Exists", Requirement{Property: "confidential-compute", Operator: OpExists}, true},
		{"Exists miss", Requirement{Property: "gpu", Operator: OpExists}, false},
		{"DoesNotExist", Requirement{Property: "gpu", Operator: OpDoesNotExist}, true},
		{"DoesNotExist miss", Requirement{Property: "cpu-gen", Operator: OpDoesNotExist}, false},
		{"Gt", Requirement{Property: "cpu-gen", Operator: OpGt, Values: []string{"4"}}, true},
		{"Gt equal is miss", Requirement{Property: "cpu-gen", Operator: OpGt, Value: "5"}, false},
		{"Lt", Requirement{Property: "cpu-gen", Operator: OpLt, Value: "6"}, true},
		{"Lt miss", Requirement{Property: "cpu-gen", Operator: OpLt, Value: "5"}, false},
		{"Gt non-integer property", Requirement{Property: "confidential-compute", Operator: OpGt, Value: "1"}, false},
		{"NotExists never matches", Requirement{Property: "gpu", Operator: "NotExists"}, false},
	}
	for _, c := range cases {
		got, why := c.r.Matches(props)
		if got != c.want {
			t.Errorf("%s: Matches = %v (%s), want %v", c.name, got, why, c.want)
		}
		if !got && why == "" {
			t.Errorf("%s: miss without a reason", c.name)
		}
	}
}

func TestRequirementValidate(t *testing.T) {
	cases := []struct {
		name    string
		r       Requirement
		wantSub string // "" = valid
	}{
		{"valid In", Requirement{Property: "a", Values: []string{"x"}}, ""},
		{"valid Exists", Requirement{Property: "a", Operator: OpExists}, ""},
		{"valid Gt value", Requirement{Property: "a", Operator: OpGt, Value: "3"}, ""},
		{"NotExists rejected", Requirement{Property: "a", Operator: "NotExists"}, `"NotExists" is not supported`},
		{"unknown operator", Requirement{Property: "a", Operator: "Equals", Values: []string{"x"}}, "unsupported operator"},
		{"property required", Requirement{Values: []string{"x"}}, "property: required"},
		{"In needs values", Requirement{Property: "a", Operator: OpIn}, "needs at least one value"},
		{"NotIn needs values", Requirement{Property: "a", Operator: OpNotIn}, "needs at least one value"},
		{"Exists forbids values", Requirement{Property: "a", Operator: OpExists, Values: []string{"x"}}, "takes no values"},
		{"DoesNotExist forbids value", Requirement{Property: "a", Operator: OpDoesNotExist, Value: "x"}, "takes no values"},
		{"Gt takes several values", Requirement{Property: "a", Operator: OpGt, Values: []string{"1", "2"}}, ""},
		{"Lt not checked as integer", Requirement{Property: "a", Operator: OpLt, Value: "big"}, ""},
		{"Gt needs a value", Requirement{Property: "a", Operator: OpGt}, "at least one value"},
		{"value and values exclusive", Requirement{Property: "a", Value: "x", Values: []string{"y"}}, "mutually exclusive"},
	}
	for _, c := range cases {
		ps := c.r.Validate()
		var all []string
		for _, p := range ps {
			all = append(all, p.String())
		}
		joined := strings.Join(all, "; ")
		if c.wantSub == "" && len(ps) > 0 {
			t.Errorf("%s: unexpected problems: %s", c.name, joined)
		}
		if c.wantSub != "" && !strings.Contains(joined, c.wantSub) {
			t.Errorf("%s: problems %q do not mention %q", c.name, joined, c.wantSub)
		}
	}
}
