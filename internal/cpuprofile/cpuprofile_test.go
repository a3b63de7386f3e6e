package cpuprofile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestStartWritesAProfileOnlyWhenAsked(t *testing.T) {
	t.Setenv(Env, "")
	Start("off")() // no directory: nothing to write, no error

	dir := t.TempDir()
	t.Setenv(Env, dir)
	stop := Start("unit")
	stop()
	files, _ := filepath.Glob(filepath.Join(dir, "unit-*.pprof"))
	if len(files) != 1 {
		t.Fatalf("want one unit-PID.pprof in %s, got %v", dir, files)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Size() == 0 {
		t.Fatalf("profile %s is empty or missing: %v", files[0], err)
	}
}
