package image

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

var (
	tinyOnce sync.Once
	tinyPath string
	tinyErr  error
)

// tinyStatic builds a small static Go program once per test binary.
func tinyStatic(t *testing.T) string {
	t.Helper()
	tinyOnce.Do(func() {
		dir, err := os.MkdirTemp("", "probe-image-test-")
		if err != nil {
			tinyErr = err
			return
		}
		src := filepath.Join(dir, "main.go")
		if err := os.WriteFile(src, []byte("package main\n\nfunc main() { println(\"probe\") }\n"), 0o644); err != nil {
			tinyErr = err
			return
		}
		tinyPath = filepath.Join(dir, "tiny")
		cmd := exec.Command("go", "build", "-o", tinyPath, src)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GO111MODULE=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			tinyErr = err
			tinyPath = string(out)
		}
	})
	if tinyErr != nil {
		t.Fatalf("build a tiny static binary: %v\n%s", tinyErr, tinyPath)
	}
	return tinyPath
}

func TestBuildReadsBack(t *testing.T) {
	bin := tinyStatic(t)
	want, _ := os.ReadFile(bin)
	out := filepath.Join(t.TempDir(), "probe.tar")
	ref := "ghcr.io/cctest/cctest-probe:test"
	if err := Build(bin, ref, out); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag(ref)
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatalf("read the tarball back: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s, want linux/%s", cf.OS, cf.Architecture, runtime.GOARCH)
	}
	if got := strings.Join(cf.Config.Entrypoint, " "); got != Entrypoint {
		t.Errorf("entrypoint %q, want %q", got, Entrypoint)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1 (the binary on an empty base)", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var files []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, h.Name)
		if "/"+h.Name == Entrypoint {
			if h.Mode&0o111 == 0 {
				t.Errorf("%s mode %o is not executable", h.Name, h.Mode)
			}
			got, _ := io.ReadAll(tr)
			if !bytes.Equal(got, want) {
				t.Errorf("%s in the layer differs from the binary (%d vs %d bytes)", h.Name, len(got), len(want))
			}
		}
	}
	if len(files) != 1 || "/"+files[0] != Entrypoint {
		t.Errorf("layer files %v, want only %s", files, Entrypoint)
	}
	if got, err := Ref(out); err != nil || got != ref {
		t.Errorf("Ref = %q, %v; want %q", got, err, ref)
	}
}

// The same binary gives the same image (layer and config digests), so
// reloading an unchanged probe into a cluster is a no-op.
func TestBuildIsReproducible(t *testing.T) {
	bin := tinyStatic(t)
	dir := t.TempDir()
	var digests []string
	for i := range 2 {
		out := filepath.Join(dir, "p"+string(rune('0'+i))+".tar")
		if err := Build(bin, "", out); err != nil {
			t.Fatal(err)
		}
		tag, _ := name.NewTag(DefaultRef)
		img, err := tarball.ImageFromPath(out, &tag)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d.String())
	}
	if digests[0] != digests[1] {
		t.Errorf("digests differ: %v", digests)
	}
	if got, _ := Ref(filepath.Join(dir, "p0.tar")); got != DefaultRef {
		t.Errorf("default ref %q, want %q", got, DefaultRef)
	}
}

func TestBuildErrors(t *testing.T) {
	dir := t.TempDir()
	notELF := filepath.Join(dir, "script.sh")
	os.WriteFile(notELF, []byte("#!/bin/sh\necho hi\n"), 0o755)
	out := filepath.Join(dir, "out.tar")
	cases := map[string]struct {
		bin, ref, want string
	}{
		"missing binary": {filepath.Join(dir, "nope"), "", "make probe"},
		"not an ELF":     {notELF, "", "not a Linux executable"},
		"bad reference":  {notELF, "Not A Ref::", "want REPOSITORY:TAG"},
	}
	if dyn := dynamicBinary(); dyn != "" {
		cases["dynamically linked"] = struct{ bin, ref, want string }{dyn, "", "CGO_ENABLED=0"}
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := Build(c.bin, c.ref, out)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	if _, err := Ref(notELF); err == nil {
		t.Error("Ref of a non-tarball: no error")
	}
}

// dynamicBinary is a dynamically linked executable of this machine (most
// distributions' /bin/sh is).
func dynamicBinary() string {
	for _, p := range []string{"/bin/sh", "/bin/ls", "/usr/bin/env"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if _, err := staticArch(b); err != nil && strings.Contains(err.Error(), "dynamically") {
			return p
		}
	}
	return ""
}

// Push writes the image to a registry (go-containerregistry's in-memory
// registry on loopback), where it reads back with the same digest, the
// entrypoint and the binary as its one file.
func TestPushToARegistry(t *testing.T) {
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	ref := strings.TrimPrefix(reg.URL, "http://") + "/cctest/probe:v1"
	digest, err := Push(context.Background(), tinyStatic(t), ref)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(parsed)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := img.Digest(); d.String() != digest {
		t.Errorf("registry digest %s, Push said %s", d, digest)
	}
	cf, err := img.ConfigFile()
	if err != nil || len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != Entrypoint {
		t.Errorf("entrypoint %v (%v)", cf.Config.Entrypoint, err)
	}
	if _, err := Push(context.Background(), tinyStatic(t), "not a reference"); err == nil || !strings.Contains(err.Error(), "want REPOSITORY:TAG") {
		t.Errorf("a bad reference: %v", err)
	}
}
