package kind

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeCLI puts an executable shell script named name into dir.
func fakeCLI(t *testing.T, dir, name, script string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// onlyPath makes dir the whole PATH (plus /bin for the scripts' sh).
func onlyPath(t *testing.T, dir string) {
	t.Setenv("PATH", dir)
	t.Setenv("KIND_EXPERIMENTAL_PROVIDER", "")
}

const wantNoEngine = "cctest run --env kind needs a container engine: no docker, podman or nerdctl found on PATH " +
	"(kind creates nodes as containers). Install Docker, or use --env embedded (default) or --env existing --kubeconfig FILE."

func TestCheckEngineNone(t *testing.T) {
	onlyPath(t, t.TempDir())
	err := CheckEngine()
	if err == nil || err.Error() != wantNoEngine {
		t.Fatalf("error:\n%v\nwant:\n%s", err, wantNoEngine)
	}
	if !errors.Is(err, ErrNoEngine) {
		t.Error("not errors.Is(err, ErrNoEngine)")
	}
}

// A docker CLI without a daemon (this machine's case): the error quotes
// the engine's own reason.
func TestCheckEngineNotAnswering(t *testing.T) {
	dir := t.TempDir()
	fakeCLI(t, dir, "docker", `echo "Client:"; echo " Version: 28.2.2"
echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
exit 1
`)
	onlyPath(t, dir)
	err := CheckEngine()
	if err == nil {
		t.Fatal("no error for a docker that does not answer")
	}
	for _, want := range []string{"needs a running container engine", "docker is on PATH but its engine does not answer",
		"Cannot connect to the Docker daemon", "--env embedded"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if errors.Is(err, ErrNoEngine) {
		t.Error("an engine is on PATH: not ErrNoEngine")
	}
}

func TestCheckEngineFindsAnAnsweringEngine(t *testing.T) {
	dir := t.TempDir()
	fakeCLI(t, dir, "docker", "echo 'Cannot connect' >&2; exit 1\n")
	fakeCLI(t, dir, "podman", "echo 'host: ok'\n")
	onlyPath(t, dir)
	if err := CheckEngine(); err != nil {
		t.Fatalf("podman answers, yet: %v", err)
	}
	e, err := detectEngine(context.Background())
	if err != nil || e != "podman" {
		t.Errorf("detected %q, %v; want podman", e, err)
	}
}

func TestCheckEngineHonoursKindProvider(t *testing.T) {
	dir := t.TempDir()
	fakeCLI(t, dir, "docker", "exit 0\n")
	onlyPath(t, dir)
	t.Setenv("KIND_EXPERIMENTAL_PROVIDER", "podman")
	err := CheckEngine()
	if err == nil || !strings.Contains(err.Error(), "no podman (KIND_EXPERIMENTAL_PROVIDER) found on PATH") {
		t.Fatalf("error %v", err)
	}
}

func TestHelmMissing(t *testing.T) {
	onlyPath(t, t.TempDir())
	err := HelmCLI{}.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "helm not found on PATH. Install Helm 3, or use --env embedded (default)") {
		t.Fatalf("error %v", err)
	}
}

func TestHelmBroken(t *testing.T) {
	dir := t.TempDir()
	fakeCLI(t, dir, "helm", "echo 'Error: bad install' >&2; exit 3\n")
	onlyPath(t, dir)
	err := HelmCLI{}.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "does not work") || !strings.Contains(err.Error(), "Error: bad install") {
		t.Fatalf("error %v", err)
	}
}

// The helm CLI gets exactly the pinned chart, the generated values and the
// host kubeconfig; a failure carries helm's own last lines.
func TestHelmUpgradeInstallArgs(t *testing.T) {
	dir := t.TempDir()
	argsFile := filepath.Join(dir, "args")
	fakeCLI(t, dir, "helm", `for a in "$@"; do echo "$a"; done > `+argsFile+`
[ "$FAIL" = 1 ] && { echo 'Error: INSTALLATION FAILED: timed out waiting for the condition' >&2; exit 1; }
echo 'Release "tenant" has been upgraded.'
`)
	onlyPath(t, dir)
	r := Release{Name: "tenant", Namespace: "vcluster-tenant", Chart: ChartName, Repo: ChartRepo, Version: ChartVersion,
		ValuesFile: "/d/vcluster-values.yaml", Kubeconfig: "/d/host.kubeconfig", Timeout: 5 * time.Minute}
	var logged []string
	h := HelmCLI{Log: func(s string) { logged = append(logged, s) }}
	if err := h.UpgradeInstall(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(argsFile)
	want := "upgrade --install tenant vcluster --repo https://charts.loft.sh --version 0.36.1 --namespace vcluster-tenant " +
		"--create-namespace --values /d/vcluster-values.yaml --kubeconfig /d/host.kubeconfig --wait --timeout 5m0s"
	if g := strings.Join(strings.Fields(string(got)), " "); g != want {
		t.Errorf("helm args:\n%s\nwant:\n%s", g, want)
	}
	if len(logged) != 1 || !strings.Contains(logged[0], "has been upgraded") {
		t.Errorf("logged %q", logged)
	}
	t.Setenv("FAIL", "1")
	err := h.UpgradeInstall(context.Background(), r)
	if err == nil || !strings.Contains(err.Error(), "INSTALLATION FAILED: timed out") || !strings.Contains(err.Error(), "helm upgrade --install tenant vcluster") {
		t.Fatalf("error %v", err)
	}
}
