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

// descendants lists root and every process below it, from /proc/*/stat.
func descendants(root int) []int {
	children := map[int][]int{}
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut at the last ')'.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		pid, err1 := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		ppid, err2 := strconv.Atoi(f[1])
		if err1 == nil && err2 == nil {
			children[ppid] = append(children[ppid], pid)
		}
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}
