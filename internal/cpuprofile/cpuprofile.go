// Package cpuprofile lets every cctest process, the control-plane children
// included, write a CPU profile: with CCTEST_CPUPROFILE_DIR set, Start
// profiles until the returned stop is called and writes
// DIR/NAME-PID.pprof. Children inherit the variable, so one run yields a
// profile per process (go tool pprof -top DIR/controlplane-tenant-*.pprof).
package cpuprofile

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
)

// Env names the directory profiles are written to.
const Env = "CCTEST_CPUPROFILE_DIR"

// Start begins profiling when Env is set; stop writes the profile. Errors
// are reported on stderr: a profile is a diagnostic, never a reason to fail.
func Start(name string) (stop func()) {
	dir := os.Getenv(Env)
	if dir == "" {
		return func() {}
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", name, os.Getpid()))
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", Env, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
