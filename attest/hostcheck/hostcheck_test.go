package hostcheck

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeHost writes a host tree under a temp dir: TDX on, a listening QGS
// socket and PCCS, kata-deploy's containerd drop-in.
func fakeHost(t *testing.T, tdx string) string {
	t.Helper()
	root := t.TempDir()
	write := func(rel, s string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(TDXParam, tdx+"\n")
	pccs, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pccs.Close() })
	write(QCNLConfig, `{"pccs_url": "https://`+pccs.Addr().String()+`/sgx/certification/v4/", "use_secure_cert": false}`)
	write(KataDeploy, "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata-qemu-tdx]\n  runtime_type = \"io.containerd.kata-qemu-tdx.v2\"\n")
	sock := filepath.Join(root, QGSSocket)
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		t.Fatal(err)
	}
	// Unix socket paths are short: listen in a short dir and link it in.
	short, err := os.MkdirTemp("", "qgs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(short) })
	l, err := net.Listen("unix", filepath.Join(short, "s"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if err := os.Symlink(filepath.Join(short, "s"), sock); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestTDXHostPasses(t *testing.T) {
	r := Run(context.Background(), Options{Root: fakeHost(t, "Y")})
	if !r.Pass || len(r.Checks) != 4 || !r.QuotePath() {
		t.Fatalf("%+v", r)
	}
	if string(r.NFDFeatureFile()) != "cctest-tdx-quote-path=true\n" {
		t.Errorf("feature file %q", r.NFDFeatureFile())
	}
}

func TestEachMissingCapabilityFailsItsCheck(t *testing.T) {
	root := fakeHost(t, "N")
	os.Remove(filepath.Join(root, QGSSocket))
	os.Remove(filepath.Join(root, KataDeploy))
	r := Run(context.Background(), Options{Root: root})
	if r.Pass || r.QuotePath() || r.NFDFeatureFile() != nil {
		t.Fatalf("passed: %+v", r)
	}
	failed := map[string]string{}
	for _, c := range r.Checks {
		if !c.Pass {
			failed[c.Name] = c.Detail
		}
	}
	for name, want := range map[string]string{"TDX host support": `is "N" (want Y)`, "quote generation service": "does not answer", "Kata handler": "no containerd runtime kata-qemu-tdx"} {
		if !strings.Contains(failed[name], want) {
			t.Errorf("%s: %q, want %q", name, failed[name], want)
		}
	}
	if _, ok := failed["PCCS"]; ok {
		t.Error("the reachable PCCS failed")
	}
}

func TestNoTEESupportAtAll(t *testing.T) {
	r := Run(context.Background(), Options{Root: t.TempDir()})
	if r.Pass || len(r.Checks) != 1 || !strings.Contains(r.Checks[0].Detail, "no TDX or SEV-SNP host support") {
		t.Fatalf("%+v", r)
	}
	r = Run(context.Background(), Options{Root: t.TempDir(), TEE: "sev-snp"})
	if r.Pass || !strings.Contains(r.Checks[0].Detail, "does not exist") {
		t.Fatalf("%+v", r)
	}
}
