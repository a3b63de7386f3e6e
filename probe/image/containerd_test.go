package image

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestContainerdImportsAndRuns loads the image into a real containerd the
// way `kind load image-archive` does (ctr images import --all-platforms
// --digests into the k8s.io namespace) and runs the probe from it. It needs
// containerd, ctr and runc and root (Debian: apt-get install containerd);
// without them it skips.
func TestContainerdImportsAndRuns(t *testing.T) {
	for _, b := range []string{"containerd", "ctr", "runc"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("%s not installed: the import is checked where containerd is (apt-get install containerd)", b)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("containerd needs root")
	}
	bin := tinyStatic(t)
	dir, err := os.MkdirTemp("", "ctrd-") // short: the socket path is limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	tarPath := filepath.Join(dir, "probe.tar")
	ref := "ghcr.io/cctest/cctest-probe:ctr-test"
	if err := Build(bin, ref, tarPath); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	logf, _ := os.Create(filepath.Join(dir, "containerd.log"))
	defer logf.Close()
	d := exec.Command("containerd", "--root", filepath.Join(dir, "root"), "--state", filepath.Join(dir, "state"), "--address", sock)
	d.Stdout, d.Stderr = logf, logf
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { d.Process.Kill(); d.Wait() }()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctr := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "ctr", append([]string{"--address", sock, "--namespace=k8s.io"}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := ctr("version"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logf.Name())
			t.Skipf("containerd did not start here:\n%s", tail(string(log)))
		}
		time.Sleep(200 * time.Millisecond)
	}
	f, err := os.Open(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	imp := exec.CommandContext(ctx, "ctr", "--address", sock, "--namespace=k8s.io", "images", "import",
		"--all-platforms", "--digests", "--snapshotter=native", "-")
	imp.Stdin = f
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("ctr images import (what kind load image-archive runs): %v\n%s", err, out)
	}
	out, err := ctr("images", "ls", "-q")
	if err != nil || !strings.Contains(out, ref) {
		t.Fatalf("image %s not listed after import (%v):\n%s", ref, err, out)
	}
	out, err = ctr("run", "--snapshotter", "native", "--rm", ref, fmt.Sprintf("probe-%d", time.Now().UnixNano()))
	if err != nil {
		t.Fatalf("run the image: %v\n%s", err, out)
	}
	if !strings.Contains(out, "probe") {
		t.Errorf("the container printed %q, want the tiny binary's output", out)
	}
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}
