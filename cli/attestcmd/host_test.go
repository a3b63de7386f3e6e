package attestcmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cctest/cctest/attest/hostcheck"
)

// TestAttestHost: a fake SNP host tree passes and writes no NFD feature; with
// SEV-SNP off it fails, exit 1, naming the check.
func TestAttestHost(t *testing.T) {
	root := t.TempDir()
	write := func(rel, s string) {
		p := filepath.Join(root, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(hostcheck.SNPParam, "Y\n")
	write(hostcheck.Containerd, "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.\"kata-qemu-snp\"]\n")
	feat := filepath.Join(t.TempDir(), "features.d", "cctest")
	out, errOut, code := run(t, New(), "--host", "--root", root, "--nfd-features", feat)
	if code != 0 || !strings.Contains(out, "SEV-SNP host support") || !strings.Contains(out, "PASS") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(feat); !os.IsNotExist(err) {
		t.Errorf("an SNP host got the TDX quote-path feature: %v", err)
	}
	write(hostcheck.SNPParam, "N\n")
	out, errOut, code = run(t, New(), "--host", "--root", root, "-o", "json")
	if code != 1 || !strings.Contains(out, `"pass": false`) || !strings.Contains(errOut+out, "SEV-SNP host support") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if _, _, code := run(t, New(), "--host", "--policy", "p.yaml"); code != 2 {
		t.Errorf("--host with --policy: exit %d", code)
	}
	if _, _, code := run(t, New(), "--root", root); code != 2 {
		t.Errorf("--root without --host: exit %d", code)
	}
}
