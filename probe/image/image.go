// Package image builds the probe image without Docker: the static
// cctest-probe binary (`make probe`) as the only file of an image on an
// empty base, written as an image tarball (`docker save` layout) that
// `kind load image-archive` and `ctr images import` read.
//
// The binary must be statically linked: on an empty base there is no
// dynamic loader, and the container would fail with a confusing "no such
// file or directory". Build refuses such a binary up front.
package image

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/cctest/cctest/probe"
)

// Entrypoint is where the binary lives in the image.
const Entrypoint = "/cctest-probe"

// DefaultRef is the reference the image is tagged with when none is given.
// It is not :latest on purpose: for :latest the kubelet's default pull
// policy is Always, which would try the registry instead of the loaded image.
const DefaultRef = probe.Image + ":local"

// Build writes an image tarball to out holding binaryPath as /cctest-probe
// (the entrypoint) on an empty base, tagged ref (DefaultRef if empty). The
// platform is linux plus the binary's ELF architecture.
func Build(binaryPath, ref, out string) error {
	tag, img, err := prepare(binaryPath, ref)
	if err != nil {
		return err
	}
	if err := tarball.WriteToFile(out, tag, img); err != nil {
		return fmt.Errorf("probe image: write %s: %w", out, err)
	}
	return nil
}

// Push builds the same image and pushes it to ref (a registry reference,
// e.g. registry.example.com/cctest/probe:v1), with the credentials the
// Docker config holds for that registry ($DOCKER_CONFIG/config.json,
// credential helpers), as docker and crane find them. It returns the
// pushed image's digest.
func Push(ctx context.Context, binaryPath, ref string, opts ...remote.Option) (string, error) {
	tag, img, err := prepare(binaryPath, ref)
	if err != nil {
		return "", err
	}
	opts = append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, opts...)
	if err := remote.Write(tag, img, opts...); err != nil {
		return "", fmt.Errorf("probe image: push %s: %w", tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

// prepare checks the reference and the binary and builds the image.
func prepare(binaryPath, ref string) (name.Tag, v1.Image, error) {
	if ref == "" {
		ref = DefaultRef
	}
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return name.Tag{}, nil, fmt.Errorf("probe image: reference %q: %v (want REPOSITORY:TAG, e.g. %s)", ref, err, DefaultRef)
	}
	bin, err := os.ReadFile(binaryPath)
	if err != nil {
		return name.Tag{}, nil, fmt.Errorf("probe image: read the probe binary: %w (build it with `make probe`)", err)
	}
	arch, err := staticArch(bin)
	if err != nil {
		return name.Tag{}, nil, fmt.Errorf("probe image: %s: %w", binaryPath, err)
	}
	img, err := imageOf(bin, arch)
	if err != nil {
		return name.Tag{}, nil, fmt.Errorf("probe image: %w", err)
	}
	return tag, img, nil
}

// imageOf is the binary as the single layer of an empty-base image.
func imageOf(bin []byte, arch string) (v1.Image, error) {
	layerTar, err := singleFileTar(Entrypoint[1:], bin)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithCompressedCaching) // compress once, not for the digest and again for the file
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Entrypoint = []string{Entrypoint}
	cf.Config.WorkingDir = "/"
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":       "cctest-probe",
		"org.opencontainers.image.description": "cctest probe: node-side checks (attest, egress, runtime) run in pods",
	}
	return mutate.ConfigFile(img, cf)
}

// singleFileTar is a layer with one executable file, with fixed times and
// owners so the same binary always gives the same layer digest.
func singleFileTar(path string, data []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{
		Name: path, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg,
		ModTime: time.Unix(0, 0), Format: tar.FormatPAX,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// staticArch returns the OCI architecture of a statically linked Linux ELF
// executable, or says why the file cannot run on an empty base.
func staticArch(bin []byte) (string, error) {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return "", errors.New("not a Linux executable (ELF): the probe image needs the cctest-probe binary from `make probe`")
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return "", fmt.Errorf("not an executable (ELF type %s)", f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "", errors.New("dynamically linked (it needs a loader the empty base does not have): build it with CGO_ENABLED=0 (`make probe`)")
		}
	}
	arch, ok := ociArch[f.Machine]
	if !ok {
		return "", fmt.Errorf("unsupported architecture %s", f.Machine)
	}
	return arch, nil
}

var ociArch = map[elf.Machine]string{
	elf.EM_X86_64:  "amd64",
	elf.EM_AARCH64: "arm64",
	elf.EM_386:     "386",
	elf.EM_ARM:     "arm",
	elf.EM_PPC64:   "ppc64le",
	elf.EM_S390:    "s390x",
	elf.EM_RISCV:   "riscv64",
}

// Ref returns the reference an image tarball is tagged with (its first
// tag), e.g. to tell pods which image was loaded.
func Ref(tarPath string) (string, error) {
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(tarPath) })
	if err != nil {
		return "", fmt.Errorf("probe image %s: %w", tarPath, err)
	}
	if len(m) == 0 || len(m[0].RepoTags) == 0 {
		return "", fmt.Errorf("probe image %s: the tarball has no tagged image", tarPath)
	}
	return m[0].RepoTags[0], nil
}
