package config

import (
	"fmt"
	"strings"
	"testing"
)

// Inputs found slow by FuzzLoadVCluster and by reading the loader: a few
// bytes each, but aliases made them cost seconds to forever before the
// loader bounded alias expansion (see strictyaml's limits).
type hostileInput struct {
	name string
	src  string
	// want is a substring of the load error; "" means the file loads and
	// wantValidate problems are found.
	want         string
	wantValidate int
}

func hostileInputs() []hostileInput {
	// A chain of merge keys, each level merging the previous one twice:
	// 2^60 merges if expanded naively.
	var mergeBomb strings.Builder
	mergeBomb.WriteString("global:\n  a0: &a0 {k: v}\n")
	for i := 1; i <= 60; i++ {
		fmt.Fprintf(&mergeBomb, "  a%d: &a%d {<<: [*a%d, *a%d]}\n", i, i, i-1, i-1)
	}

	// Nine levels of ten aliases under 1000-byte keys (YAML's limit for a
	// plain key): every expanded node's path is up to 9 KB long.
	var longPaths strings.Builder
	longPaths.WriteString("global:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&longPaths, "  a%d: &a%d {%s%d: [%s*a%d]}\n", i, i, strings.Repeat("k", 1000), i,
			strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 9), i-1)
	}

	// 200 autoNodes entries sharing one list of 100 pools through an alias:
	// small enough to load (about 40,000 nodes), but validation used to
	// scan every pool for every entry.
	var pools strings.Builder
	pools.WriteString("privateNodes:\n  autoNodes:\n  - provider: p\n    dynamic: &pools\n")
	for j := 0; j < 100; j++ {
		fmt.Fprintf(&pools, "    - name: n%d\n", j)
	}
	for i := 1; i < 200; i++ {
		pools.WriteString("  - {provider: p, dynamic: *pools}\n")
	}

	return []hostileInput{
		// The fuzzer's shape: an anchor merged into itself, twice. Merge
		// keys were not charged to any budget: 2^200 calls.
		{name: "self-merge", src: "x: &x {<<: [*x, *x]}\n", want: "x: unknown field"},
		{name: "self-merge-typed", src: "sync: &x {<<: [*x, *x]}\n", want: "recursive alias: *x"},
		// An anchor listing itself twice: expanded to a million nodes
		// with 600-byte paths (4.5 s) before the limit stopped it.
		{name: "self-alias", src: "global: &x [*x, *x]\n", want: "recursive alias: *x"},
		{name: "self-alias-unknown-key", src: "x: &x {a: *x, b: *x}\n", want: "x: unknown field"},
		{name: "merge-bomb", src: mergeBomb.String(), want: "document too large: more than 50000 nodes after alias expansion"},
		{name: "long-paths", src: longPaths.String(), want: "document too large: field paths exceed 8 MiB after alias expansion"},
		// 199 repeated providers, and every pool name repeated 199 times.
		{name: "aliased-pools", src: pools.String(), wantValidate: 199 + 199*100},
	}
}

func TestHostileVClusterInputsFailFast(t *testing.T) {
	for _, in := range hostileInputs() {
		t.Run(in.name, func(t *testing.T) {
			f, err := LoadVCluster("hostile.yaml", []byte(in.src))
			if in.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if ps := f.Validate(); len(ps) != in.wantValidate {
					t.Fatalf("got %d problems, want %d", len(ps), in.wantValidate)
				}
				return
			}
			if err == nil {
				t.Fatal("loaded without error")
			}
			if !strings.Contains(err.Error(), in.want) {
				t.Fatalf("error does not mention %q:\n%.2000s", in.want, err)
			}
			if ps := problemsOf(t, err); len(ps) > 10 {
				t.Fatalf("%d problems for one hostile construct:\n%.2000s", len(ps), err)
			}
		})
	}
}

// A merge key brings in the anchor's keys; keys of the mapping itself win.
func TestMergeKeyOverrideInVCluster(t *testing.T) {
	src := `privateNodes:
  autoNodes:
  - provider: p
    dynamic:
    - &pool {name: a, taints: [{key: k, effect: NoSchedule}]}
    - {<<: *pool, name: b}
`
	f, err := LoadVCluster("v.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	pools := f.Values.Pools()
	if len(pools) != 2 || pools[1].Name != "b" || len(pools[1].Taints) != 1 {
		t.Fatalf("pools = %+v", pools)
	}
	if ps := f.Validate(); len(ps) > 0 {
		t.Fatal(ps)
	}
}

// Cost of each hostile input (load, and validate when it loads); compare with
// BenchmarkLoadAndValidateVCluster for an ordinary file.
func BenchmarkLoadVClusterHostile(b *testing.B) {
	for _, in := range hostileInputs() {
		data := []byte(in.src)
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				f, err := LoadVCluster("hostile.yaml", data)
				if err == nil {
					f.Validate()
				}
			}
		})
	}
}
