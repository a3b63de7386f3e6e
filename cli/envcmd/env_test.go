package envcmd

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cctest/cctest/internal/testbin"
)

// TestUpThenSIGTERMLeavesNothingBehind runs the real binary: `env up`,
// then SIGTERM, then checks that no child process, no listening port and no
// data directory is left.
func TestUpThenSIGTERMLeavesNothingBehind(t *testing.T) {
	bin := testbin.Path(t)
	dir := filepath.Join(t.TempDir(), "env")
	var out bytes.Buffer
	cmd := exec.Command(bin, "env", "up", "--dir", dir)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "Stop with") {
		if time.Now().After(deadline) {
			t.Fatalf("env up not ready:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, f := range []string{"host.kubeconfig", "tenant.kubeconfig"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("missing %s: %v", f, err)
		}
	}
	// host, tenant and the shared-nodes tenant
	children := childPIDs(cmd.Process.Pid)
	if len(children) != 3 {
		t.Fatalf("want 3 control-plane children, got %v", children)
	}
	var ports []int
	for _, pid := range children {
		ports = append(ports, listeningPorts(pid)...)
	}
	if len(ports) < 9 { // per control plane: API server, etcd client, etcd peer at least
		t.Fatalf("expected listening ports of the children, got %v", ports)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("env up exited with %v:\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("env up did not stop after SIGTERM:\n%s", out.String())
	}
	for _, pid := range children {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("child %d still running", pid)
		}
	}
	for _, p := range ports {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p), time.Second); err == nil {
			c.Close()
			t.Errorf("port %d still accepts connections", p)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("data directory %s not removed (err=%v)", dir, err)
	}
}

func TestDownWithoutEnvironment(t *testing.T) {
	cmd := New()
	cmd.SetArgs([]string{"down", "--dir", t.TempDir()})
	cmd.SetOut(&bytes.Buffer{})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "no running environment") {
		t.Fatalf("err = %v, want 'no running environment'", err)
	}
}

func TestDownStaleState(t *testing.T) {
	dir := t.TempDir()
	if err := writeState(dir, state{PID: 1 << 22}); err != nil { // beyond pid_max
		t.Fatal(err)
	}
	err := down(&bytes.Buffer{}, dir, time.Second)
	if err == nil || !strings.Contains(err.Error(), "not running any more") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, stateFile)); !os.IsNotExist(err) {
		t.Fatal("stale state file not removed")
	}
}

func childPIDs(parent int) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(parent) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// listeningPorts returns the TCP ports a process listens on, from its socket
// inodes and /proc/net/tcp.
func listeningPorts(pid int) []int {
	inodes := map[string]bool{}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var ports []int
	b, _ := os.ReadFile("/proc/net/tcp")
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] { // 0A = LISTEN
			continue
		}
		local := f[1]
		p, err := strconv.ParseInt(local[strings.IndexByte(local, ':')+1:], 16, 32)
		if err == nil {
			ports = append(ports, int(p))
		}
	}
	return ports
}
