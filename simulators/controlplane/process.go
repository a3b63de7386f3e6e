// Package controlplane supervises embedded Kubernetes control planes. Each
// control plane runs in a child process of the cctest binary (the hidden
// `cctest __controlplane` command, package inprocess) because
// kube-controller-manager can start only once per process. This package
// does not import k8s.io/kubernetes, so what uses it builds fast.
package controlplane

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ChildCommand is the hidden subcommand that runs one control plane.
const ChildCommand = "__controlplane"

// ReadyPrefix starts the line a child prints on stdout once it serves.
const ReadyPrefix = "CCTEST-READY "

// Ready is what a child reports when its API server is ready.
type Ready struct {
	Kubeconfig string `json:"kubeconfig"`
	Server     string `json:"server"`
	PID        int    `json:"pid"`
}

// Process is one supervised control-plane child.
type Process struct {
	Name  string
	Ready Ready
	Log   string // the child's log file (component logs)

	cmd     *exec.Cmd
	stdin   io.WriteCloser // closing it tells the child to stop, even if we die
	done    chan struct{}  // closed when the child has exited
	waitErr error          // the child's exit status, valid after done
}

// SharedNodesFlag makes a child run the control plane the way vCluster runs
// a tenant on shared nodes: no scheduler (the host cluster's schedules its
// pods) and vCluster's controller set for that mode.
const SharedNodesFlag = "--shared-nodes"

// Launch starts `binary __controlplane --name NAME --dir DIR` (plus
// --apiserver-arg for each extra kube-apiserver flag) and waits until
// it reports ready. If the parent dies, the child stops too: it gets SIGKILL
// from the kernel (Pdeathsig) and sees EOF on stdin.
func Launch(ctx context.Context, binary, name, dir string, apiserverArgs ...string) (*Process, error) {
	return launch(ctx, binary, name, dir, false, apiserverArgs)
}

// LaunchSharedNodes is Launch for a tenant on shared nodes (SharedNodesFlag).
func LaunchSharedNodes(ctx context.Context, binary, name, dir string) (*Process, error) {
	return launch(ctx, binary, name, dir, true, nil)
}

func launch(ctx context.Context, binary, name, dir string, sharedNodes bool, apiserverArgs []string) (*Process, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "components.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()

	args := []string{ChildCommand, "--name", name, "--dir", dir}
	for _, a := range apiserverArgs {
		args = append(args, "--apiserver-arg", a)
	}
	if sharedNodes {
		args = append(args, SharedNodesFlag)
	}
	cmd := exec.Command(binary, args...)
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Pdeathsig: syscall.SIGKILL,
		Setpgid:   true, // Ctrl-C reaches the parent only; it stops children in order
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s control plane (%s): %w", name, binary, err)
	}
	p := &Process{Name: name, Log: logPath, cmd: cmd, stdin: stdin, done: make(chan struct{})}

	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), ReadyPrefix) {
				lines <- strings.TrimPrefix(sc.Text(), ReadyPrefix)
			}
		}
		close(lines)
	}()
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()

	timeout := time.NewTimer(90 * time.Second)
	defer timeout.Stop()
	select {
	case line, ok := <-lines:
		if !ok {
			<-p.done
			return nil, fmt.Errorf("%s control plane exited before it was ready (%v); last log lines:\n%s", name, p.waitErr, tail(logPath, 15))
		}
		if err := json.Unmarshal([]byte(line), &p.Ready); err != nil {
			p.Stop()
			return nil, fmt.Errorf("%s control plane: bad ready line %q: %w", name, line, err)
		}
		return p, nil
	case <-timeout.C:
		p.Stop()
		return nil, fmt.Errorf("%s control plane not ready after 90s; last log lines:\n%s", name, tail(logPath, 15))
	case <-ctx.Done():
		p.Stop()
		return nil, ctx.Err()
	}
}

// Stop asks the child to shut down (SIGTERM), waits up to 30 s, then kills it.
func (p *Process) Stop() error {
	if p.cmd.Process == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		p.stdin.Close()
		var ee *exec.ExitError
		if errors.As(p.waitErr, &ee) && ee.ExitCode() != 0 {
			return fmt.Errorf("%s control plane exited with %d; see %s", p.Name, ee.ExitCode(), p.Log)
		}
		return nil
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		p.stdin.Close()
		return fmt.Errorf("%s control plane did not stop within 30s and was killed", p.Name)
	}
}

// Exited is closed when the child has exited (crashed or stopped).
func (p *Process) Exited() <-chan struct{} { return p.done }

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
