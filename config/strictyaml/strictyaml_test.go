package strictyaml

import (
	"fmt"
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

// YAML merge precedence: the mapping's own keys win, then earlier merged
// mappings; a merged key is not a duplicate, a repeated own key still is.
func TestMergeKeyPrecedence(t *testing.T) {
	v, _, errs := decode(t, "<<: [{name: first, count: 1}, {name: second, count: 2, labels: {a: b}}]\ncount: 3\n")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if v.Name != "first" || *v.Count != 3 || v.Labels["a"] != "b" {
		t.Fatalf("v = %+v", v)
	}
	_, _, errs = decode(t, "<<: {name: merged}\nname: own\nname: again\n")
	if len(errs) != 1 || errs[0].Path != "name" || errs[0].Msg != "duplicate field" || errs[0].Pos.Line != 3 {
		t.Fatalf("errs = %v", errs)
	}
	_, _, errs = decode(t, "<<: [1]\n")
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, "merge key (<<) needs a mapping") {
		t.Fatalf("errs = %v", errs)
	}
}

// An alias inside the node it refers to would expand forever; it is an
// error at each such alias, in Decode and in Generic.
func TestRecursiveAliasIsAnError(t *testing.T) {
	for _, src := range []string{
		"a: &x [*x, *x]\n",
		"a: &x {b: *x, c: *x}\n",
		"a: &x {<<: [*x, *x]}\n",
		"a: &x {<<: {b: [*x]}}\n",
		"a: &x [[[[*x]]]]\n",
		"a: &x [&y [*x, *y]]\n",
	} {
		docs, err := Documents([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		_, errs := Decode(docs[0], &v, "")
		if len(errs) == 0 || len(errs) > 2 || !strings.Contains(errs[0].Msg, "recursive alias: *x refers to the node anchored &x (line 1) that contains it") {
			t.Errorf("%q: Decode errs = %v", src, errs)
		}
		if _, err := Generic(docs[0]); err == nil || !strings.Contains(err.Error(), "recursive alias: *x") {
			t.Errorf("%q: Generic err = %v", src, err)
		}
	}
}

// Reusing an anchor next to itself, or inside another anchor, is no cycle.
func TestSharedAnchorsAreNotRecursive(t *testing.T) {
	v, _, errs := decode(t, "<<: &n {name: x}\nitems: [*n, *n, {<<: *n}]\nany: {p: &p [1], q: [*p, {r: *p}]}\n")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(v.Items) != 3 || v.Items[2].Name != "x" || len(v.Any.(map[string]any)["q"].([]any)) != 2 {
		t.Fatalf("v = %+v", v)
	}
}

// Merge keys are charged like aliases: a chain merging the previous level
// twice is 2^60 merges, stopped at MaxNodes.
func TestMergeBombIsBounded(t *testing.T) {
	src := "a0: &a0 {name: x}\n"
	for i := 1; i <= 60; i++ {
		src += fmt.Sprintf("a%d: &a%d {<<: [*a%d, *a%d]}\n", i, i, i-1, i-1)
	}
	docs, err := Documents([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	_, errs := Decode(docs[0], &v, "")
	want := fmt.Sprintf("document too large: more than %d nodes after alias expansion", MaxNodes)
	if len(errs) != 1 || errs[0].Msg != want {
		t.Fatalf("errs = %v", errs)
	}
}

// Long keys under nested aliases make long paths: bounded by MaxPathBytes.
func TestLongPathsAreBounded(t *testing.T) {
	src := "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 1; i <= 9; i++ {
		src += fmt.Sprintf("a%d: &a%d {%s: [%s*a%d]}\n", i, i, strings.Repeat("k", 1000), strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 9), i-1)
	}
	docs, err := Documents([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Generic(docs[0])
	if err == nil || !strings.Contains(err.Error(), "field paths exceed 8 MiB after alias expansion") {
		t.Fatalf("err = %v", err)
	}
}

// Past MaxErrors problems decoding stops with one last problem saying so.
func TestTooManyProblemsStops(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 3*MaxErrors; i++ {
		fmt.Fprintf(&b, "unknown%d: 1\n", i)
	}
	_, _, errs := decode(t, b.String())
	if len(errs) != MaxErrors+1 || !strings.Contains(errs[MaxErrors].Msg, fmt.Sprintf("too many problems: stopped after %d", MaxErrors)) {
		t.Fatalf("%d errors, last %v", len(errs), errs[len(errs)-1])
	}
}

// Cost of the hostile shapes above (each ends in an error).
func BenchmarkDecodeHostile(b *testing.B) {
	bomb := "a0: &a0 {name: x}\n"
	for i := 1; i <= 60; i++ {
		bomb += fmt.Sprintf("a%d: &a%d {<<: [*a%d, *a%d]}\n", i, i, i-1, i-1)
	}
	for _, c := range []struct{ name, src string }{
		{"self-merge", "a: &x {<<: [*x, *x]}\n"},
		{"self-alias", "a: &x [*x, *x]\n"},
		{"merge-bomb", bomb},
	} {
		docs, err := Documents([]byte(c.src))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				var v map[string]any
				if _, errs := Decode(docs[0], &v, ""); len(errs) == 0 {
					b.Fatal("no error")
				}
			}
		})
	}
}
