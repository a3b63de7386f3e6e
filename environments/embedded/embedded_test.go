package embedded

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cctest/cctest/environments/kubeconfig"
	"github.com/cctest/cctest/internal/testbin"
)

// Create starts three control planes as child processes, Destroy leaves
// none of them running and removes the temporary directory.
func TestCreateDestroy(t *testing.T) {
	bin := testbin.Path(t)
	logFile := filepath.Join(t.TempDir(), "platform.log")
	p := New(Options{Binary: bin, LogFile: logFile})
	if p.Name() != "embedded" {
		t.Errorf("Name %q", p.Name())
	}
	ctx := context.Background()
	c, err := p.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Destroy(ctx)
	if c.Name() != "embedded" || c.TimeoutScale() != 1 || c.Tenant() == nil || c.Host() == nil || c.SharedTenant() == nil {
		t.Errorf("cluster %+v", c)
	}
	if c.LogFile != logFile || c.Started <= 0 {
		t.Errorf("log file %q, started %s", c.LogFile, c.Started)
	}
	for _, f := range []string{c.TenantKubeconfig, c.HostKubeconfig, c.SharedKubeconfig} {
		if !strings.HasPrefix(f, c.Dir+string(filepath.Separator)) {
			t.Errorf("kubeconfig %s is not in the platform's directory %s", f, c.Dir)
		}
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
	if err := kubeconfig.WaitReachable(ctx, c.Tenant(), "the tenant", 30*time.Second); err != nil {
		t.Error(err)
	}
	if p.Platform() == nil {
		t.Error("no platform after Create")
	}
	if _, err := p.Create(ctx); err == nil {
		t.Error("a second Create did not fail")
	}
	children := childrenIn(c.Dir)
	if len(children) != 3 { // host, tenant, shared-nodes tenant
		t.Errorf("want 3 control-plane children, got %v", children)
	}

	if err := p.Destroy(ctx); err != nil {
		t.Errorf("Destroy: %v", err)
	}
	for _, pid := range children {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("child %d still running after Destroy", pid)
		}
	}
	if _, err := os.Stat(c.Dir); !os.IsNotExist(err) {
		t.Errorf("temporary directory %s left after Destroy (err=%v)", c.Dir, err)
	}
	if _, err := os.Stat(logFile); err != nil {
		t.Errorf("platform log: %v", err)
	}
	if p.Platform() != nil {
		t.Error("platform left after Destroy")
	}
	if err := p.Destroy(ctx); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

func TestCreateErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "cctest")
	_, err := New(Options{Binary: missing}).Create(context.Background())
	if err == nil || !strings.Contains(err.Error(), "the cctest binary "+missing+" does not exist (build it with `make build`)") {
		t.Errorf("missing binary: %v", err)
	}
	t.Setenv("CCTEST_BIN", "")
	_, err = New(Options{}).Create(context.Background())
	if err == nil || !strings.Contains(err.Error(), "cannot find the cctest binary") {
		t.Errorf("no binary: %v", err)
	}
	p := New(Options{})
	if err := p.Destroy(context.Background()); err != nil || p.Platform() != nil {
		t.Errorf("Destroy before Create: %v", err)
	}
}

// childrenIn lists this process's children whose command line mentions dir.
func childrenIn(dir string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) < 2 || fields[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(cmdline), dir) {
			pids = append(pids, pid)
		}
	}
	return pids
}
