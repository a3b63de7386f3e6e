package image

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkBuild is the cost `cctest run --env kind` pays to make the probe
// image from the real probe binary (bin/cctest-probe, `make probe`).
func BenchmarkBuild(b *testing.B) {
	bin := findUp("bin/cctest-probe")
	if bin == "" {
		b.Skip("bin/cctest-probe not built (make probe)")
	}
	st, _ := os.Stat(bin)
	out := filepath.Join(b.TempDir(), "probe.tar")
	b.SetBytes(st.Size())
	for b.Loop() {
		if err := Build(bin, "", out); err != nil {
			b.Fatal(err)
		}
	}
}

func findUp(rel string) string {
	dir, _ := os.Getwd()
	for range 6 {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		dir = filepath.Dir(dir)
	}
	return ""
}
