//go:build unix

package verifier

import "syscall"

// processCPU is the CPU time of the whole process (every thread, the
// garbage collector's too), so a benchmark can report its CPU cost per
// operation on a loaded machine, where wall time measures the neighbours.
func processCPU() (int64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}
