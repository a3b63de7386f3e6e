package strictyaml

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

type base struct {
	Name string `json:"name"`
}

type target struct {
	base     `json:",inline"`
	Count    *int              `json:"count,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Quantity resource.Quantity `json:"quantity,omitempty"`
	Any      any               `json:"any,omitempty"`
	Items    []base            `json:"items,omitempty"`
}

func decode(t *testing.T, src string) (target, Positions, []Error) {
	t.Helper()
	docs, err := Documents([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var v target
	pos, errs := Decode(docs[0], &v, "")
	return v, pos, errs
}

func TestDecodeInlineMergeAndUnmarshaler(t *testing.T) {
	v, pos, errs := decode(t, `defaults: &d {name: x}
`+"")
	if len(errs) != 1 || errs[0].Path != "defaults" {
		t.Fatalf("errs = %v", errs)
	}
	v, pos, errs = decode(t, "<<: {name: merged}\ncount: 3\nlabels: {node.kubernetes.io/zone: a}\nquantity: 512Gi\nany: {n: 1, l: [true, 1.5]}\nitems:\n- name: i0\n")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if v.Name != "merged" || *v.Count != 3 || v.Labels["node.kubernetes.io/zone"] != "a" || v.Quantity.Value() != 512<<30 {
		t.Fatalf("v = %+v", v)
	}
	if m := v.Any.(map[string]any); m["n"] != int64(1) || m["l"].([]any)[1] != 1.5 {
		t.Fatalf("any = %#v", v.Any)
	}
	if pos[`labels["node.kubernetes.io/zone"]`].Line != 3 || pos["items[0]"].Line != 7 {
		t.Fatalf("positions = %v", pos)
	}
}

func TestDecodeErrors(t *testing.T) {
	_, _, errs := decode(t, "nmae: x\ncount: many\nquantity: lots\nitems: {name: x}\nlabels: {a: 1}\n")
	var all []string
	for _, e := range errs {
		all = append(all, e.Error())
	}
	got := strings.Join(all, "\n")
	for _, want := range []string{
		`line 1: nmae: unknown field (did you mean "name"?)`,
		`line 2: count: expected an integer, got str "many"`,
		`line 3: quantity: invalid value`,
		`line 4: items: expected a list, got a mapping`,
		`line 5: labels.a: expected a string, got int "1" (quote it)`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

func TestAliasBombIsBounded(t *testing.T) {
	src := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for i := 0; i < 8; i++ {
		name := string(rune('b' + i))
		src += name + ": &" + name + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = name
	}
	src += "any: *" + prev + "\n"
	docs, err := Documents([]byte(src))
	if err != nil {
		t.Skip("parser rejected the alias bomb itself:", err)
	}
	var v map[string]any
	_, errs := Decode(docs[0], &v, "")
	if len(errs) == 0 || !strings.Contains(errs[len(errs)-1].Msg, "too large") {
		t.Fatalf("alias bomb not bounded: %d errors", len(errs))
	}
}

func TestChild(t *testing.T) {
	if Child("", "a") != "a" || Child("a", "b-c") != "a.b-c" || Child("a", "x/y") != `a["x/y"]` {
		t.Fatal(Child("a", "x/y"))
	}
}
