// Package testbin gives tests the cctest binary that runs the embedded
// control planes: $CCTEST_BIN (set by `make test`), or else it builds one
// with the same flags as the Makefile, once per machine state (go build is
// incremental, and a file lock keeps parallel test packages from racing).
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/cctest/cctest/internal/buildinfo"
	"github.com/cctest/cctest/simulators/controlplane"
)

var (
	once sync.Once
	path string
	err  error
)

// Path returns the cctest binary, building it if needed; it sets
// CCTEST_BIN so code under test finds it too.
func Path(t testing.TB) string {
	t.Helper()
	once.Do(func() { path, err = resolve() })
	if err != nil {
		t.Fatalf("cctest binary: %v", err)
	}
	os.Setenv(controlplane.BinaryEnv, path)
	return path
}

func resolve() (string, error) {
	if b := os.Getenv(controlplane.BinaryEnv); b != "" {
		return b, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(root, "bin", "cctest")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(out+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	cmd := exec.Command("go", "build", "-ldflags", LDFlags("test"), "-o", out, "./cmd/cctest")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/cctest: %v\n%s", err, b)
	}
	return out, nil
}

// LDFlags are the link flags the Makefile uses too.
func LDFlags(version string) string {
	kv := buildinfo.KubernetesVersion
	parts := strings.SplitN(strings.TrimPrefix(kv, "v"), ".", 3)
	flags := []string{"-X github.com/cctest/cctest/internal/buildinfo.Version=" + version}
	for _, p := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		flags = append(flags, "-X "+p+".gitVersion="+kv, "-X "+p+".gitMajor="+parts[0], "-X "+p+".gitMinor="+parts[1])
	}
	return strings.Join(flags, " ")
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the cctest module")
	}
	return filepath.Dir(mod), nil
}
