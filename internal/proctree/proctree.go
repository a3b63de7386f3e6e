// Package proctree measures the peak memory of a process tree for the
// benchmarks: the sum over every process of its own peak RSS (VmHWM in
// /proc/PID/status). Summing peaks over-counts when processes peak at
// different times, so it is an upper bound of the tree's real peak.
package proctree

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// VmHWM is a process's peak RSS in KiB (0 when it cannot be read).
func VmHWM(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			if f := strings.Fields(line); len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return 0
}

// Sampler follows the descendants of a root process (the root included)
// and remembers each one's latest VmHWM, so processes that exit before the
// end are still counted.
type Sampler struct {
	root int
	mu   sync.Mutex
	peak map[int]int64
	stop chan struct{}
	done chan struct{}
}

// Sample starts sampling root's tree every interval until Stop.
func Sample(root int, interval time.Duration) *Sampler {
	s := &Sampler{root: root, peak: map[int]int64{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			s.once()
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *Sampler) once() {
	for _, pid := range descendants(s.root) {
		if kb := VmHWM(pid); kb > 0 {
			s.mu.Lock()
			if kb > s.peak[pid] {
				s.peak[pid] = kb
			}
			s.mu.Unlock()
		}
	}
}

// Stop ends sampling and returns the summed peak in KiB and the number of
// processes seen.
func (s *Sampler) Stop() (kb int64, procs int) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.peak {
		kb += v
	}
	return kb, len(s.peak)
}

// descendants lists root and every process below it. A child is listed
// under the thread that forked it, so every thread's children file is read
// (reading only these few processes' files keeps sampling cheap on a busy
// machine, unlike scanning all of /proc).
func descendants(root int) []int {
	out := []int{root}
	for i := 0; i < len(out); i++ {
		files, _ := filepath.Glob("/proc/" + strconv.Itoa(out[i]) + "/task/*/children")
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			for _, c := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(c); err == nil {
					out = append(out, pid)
				}
			}
		}
	}
	return out
}
