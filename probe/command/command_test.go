package command

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cctest/cctest/internal/exitcode"

	"github.com/cctest/cctest/simulators/tee/simdevice"

	"github.com/cctest/cctest/attest/device"
	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/fixtures"
	"github.com/cctest/cctest/probe"
	"github.com/cctest/cctest/simulators/attestation"
	"github.com/cctest/cctest/simulators/tee"
)

func simEnv(t *testing.T, env map[string]string) *probe.Env {
	m := tee.NewTDXMachine(tee.TDXOptions{Name: "cmd-tdx"})
	return &probe.Env{
		Device:   func() (device.Device, error) { return simdevice.New(m), nil },
		Getenv:   func(k string) string { return env[k] },
		ReadFile: func(string) ([]byte, error) { return nil, os.ErrNotExist },
		Runtime: func() probe.RuntimeInfo {
			return probe.RuntimeInfo{Handler: "kata-qemu-tdx", Sandbox: "vm", TEE: "tdx"}
		},
		Stdout:    &bytes.Buffer{},
		WriteFile: func(string, []byte) error { return nil },
	}
}

func parse(t *testing.T, msg string) probe.Result {
	t.Helper()
	r, err := probe.ParseMessage(msg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestAttestThroughTheCommandLine(t *testing.T) {
	b, _ := fixtures.Read("policies/platform.yaml")
	pol, err := policy.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	s, err := attestation.Start(attestation.Config{Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, _ := s.Client()
	ch, err := c.Challenge(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	env := simEnv(t, map[string]string{probe.EnvPodUID: "uid-9", probe.EnvNodeName: "node-a", probe.EnvCA: string(s.CAPEM())})
	code, msg := Run(context.Background(), env, []string{"probe", "attest", "--service", s.URL(), "--nonce", ch.Nonce})
	r := parse(t, msg)
	if code != 0 || !r.Pass || r.Node != "node-a" || r.PodUID != "uid-9" || r.Nonce != ch.Nonce {
		t.Fatalf("code %d result %+v", code, r)
	}
	if !strings.Contains(env.Stdout.(*bytes.Buffer).String(), `"probe":"attest"`) {
		t.Error("no result line on stdout")
	}
	// Reusing the spec's nonce fails (single use).
	code, msg = Run(context.Background(), env, []string{"attest", "--service", s.URL(), "--nonce", ch.Nonce})
	if r := parse(t, msg); code != exitcode.Failed || r.Pass || !strings.Contains(r.Reason, "already used") {
		t.Errorf("reused nonce: code %d %q", code, r.Reason)
	}
}

func TestUsageErrorsExitTwoWithAMessage(t *testing.T) {
	env := simEnv(t, nil)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"attest", "--service", "https://x", "--discover"}, "exclusive"},
		{[]string{"attest", "--nonce", "xyz"}, `--nonce "xyz": want hex`},
		{[]string{"egress"}, "--target HOST:PORT is required"},
		{[]string{"egress", "--target", "a:1", "--expect", "maybe"}, "want reachable or blocked"},
		{[]string{"egress", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"teleport"}, `unknown command "teleport"`},
		{nil, "name a probe"},
		{[]string{"runtime", "extra"}, "unknown command"},
	} {
		code, msg := Run(context.Background(), env, tc.args)
		r := parse(t, msg)
		if code != exitcode.Usage || r.Pass || !strings.Contains(r.Reason, tc.want) {
			t.Errorf("%v: code %d reason %q, want 2 and %q", tc.args, code, r.Reason, tc.want)
		}
	}
	if code, msg := Run(context.Background(), env, []string{"--help"}); code != 0 || msg != "" {
		t.Errorf("--help: %d %q", code, msg)
	}
}

func TestRuntimeAndEgressExitCodes(t *testing.T) {
	env := simEnv(t, map[string]string{probe.EnvNodeName: "n"})
	if code, msg := Run(context.Background(), env, []string{"runtime", "--expect-tee", "tdx", "--expect-handler", "kata-qemu-tdx"}); code != 0 {
		t.Errorf("runtime: %d %s", code, msg)
	}
	code, msg := Run(context.Background(), env, []string{"runtime", "--expect-tee", "sev-snp"})
	if r := parse(t, msg); code != exitcode.Failed || !strings.Contains(r.Reason, "expected sev-snp") || r.Node != "n" {
		t.Errorf("runtime mismatch: %d %+v", code, r)
	}
	// The real dialer: nothing listens on port 1 of loopback, refused = reachable.
	env.Dial = nil
	if code, msg := Run(context.Background(), env, []string{"egress", "--target", "127.0.0.1:1", "--expect", "blocked"}); code != exitcode.Failed {
		t.Errorf("egress expected blocked but reachable: %d %s", code, msg)
	}
}

func TestTerminationLogIsWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "termination-log")
	env := simEnv(t, nil)
	env.WriteFile = nil // the real writer
	code, msg := Run(context.Background(), env, []string{"runtime", "--termination-log", path})
	b, err := os.ReadFile(path)
	if err != nil || code != 0 || string(b) != msg {
		t.Fatalf("termination log %q (%v), message %q", b, err, msg)
	}
}

func TestNewHasTheProbesAndIdle(t *testing.T) {
	cmd := New()
	var names []string
	for _, c := range cmd.Commands() {
		names = append(names, c.Name())
	}
	if strings.Join(names, ",") != "attest,egress,guest,idle,runtime" {
		t.Errorf("subcommands %v", names)
	}
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"attest", "--help"})
	if err := cmd.Execute(); err != nil || !strings.Contains(out.String(), "--nonce") {
		t.Errorf("help: %v %s", err, out.String())
	}
}

// idle runs until the context ends (the kubelet's SIGTERM in a pod) and
// then exits 0.
func TestIdleRunsUntilStopped(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		code, _ := Run(ctx, simEnv(t, nil), []string{"idle"})
		done <- code
	}()
	select {
	case code := <-done:
		t.Fatalf("idle returned %d before it was stopped", code)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("idle exited %d when stopped, want 0", code)
	}
}
