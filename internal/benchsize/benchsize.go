// Package benchsize reads the NODESxPODS sizes benchmarks take from an
// environment variable, e.g. CCTEST_BENCH_SIZES="100x1000,1000x10000".
package benchsize

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// Size is one benchmark size.
type Size struct{ Nodes, Pods int }

// Parse reads env (def when unset) and fails the benchmark on a malformed
// entry, naming the variable and the entry.
func Parse(b testing.TB, env, def string) []Size {
	b.Helper()
	v := os.Getenv(env)
	if v == "" {
		v = def
	}
	var out []Size
	for _, s := range strings.Split(v, ",") {
		n, m, ok := strings.Cut(strings.TrimSpace(s), "x")
		nodes, err1 := strconv.Atoi(n)
		pods, err2 := strconv.Atoi(m)
		if !ok || err1 != nil || err2 != nil {
			b.Fatalf("%s: %q: want NODESxPODS", env, s)
		}
		out = append(out, Size{nodes, pods})
	}
	return out
}
