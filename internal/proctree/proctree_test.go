package proctree

import (
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

func TestSamplerCountsChildren(t *testing.T) {
	cmd := exec.Command("sleep", "2")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep binary:", err)
	}
	defer cmd.Wait()
	if !slices.Contains(descendants(os.Getpid()), cmd.Process.Pid) {
		t.Fatalf("child %d not among the descendants %v", cmd.Process.Pid, descendants(os.Getpid()))
	}
	s := Sample(os.Getpid(), 10*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	kb, procs := s.Stop()
	if procs < 2 || kb <= VmHWM(os.Getpid())-1 {
		t.Fatalf("got %d KiB over %d processes, want this process and its child", kb, procs)
	}
}
