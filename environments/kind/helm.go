package kind

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Helm is the boundary to Helm: it installs the vCluster chart. The
// default shells out to the helm CLI (there is no Helm Go library among
// the project's dependencies).
type Helm interface {
	// Check fails with a clear message when Helm cannot be used.
	Check(ctx context.Context) error
	// UpgradeInstall installs or upgrades a release.
	UpgradeInstall(ctx context.Context, r Release) error
}

// Release is one `helm upgrade --install`.
type Release struct {
	Name, Namespace string
	Chart, Repo     string
	Version         string
	ValuesFile      string
	Kubeconfig      string
	Timeout         time.Duration
}

// Args are the helm CLI arguments for the release.
func (r Release) Args() []string {
	args := []string{"upgrade", "--install", r.Name, r.Chart,
		"--repo", r.Repo, "--version", r.Version,
		"--namespace", r.Namespace, "--create-namespace",
		"--values", r.ValuesFile,
		"--kubeconfig", r.Kubeconfig,
		"--wait"}
	if r.Timeout > 0 {
		args = append(args, "--timeout", r.Timeout.String())
	}
	return args
}

// HelmCLI runs the helm binary.
type HelmCLI struct {
	Binary string // default "helm"
	Log    func(string)
}

func (h HelmCLI) bin() string {
	if h.Binary == "" {
		return "helm"
	}
	return h.Binary
}

// Check finds helm and asks it for its version.
func (h HelmCLI) Check(ctx context.Context) error {
	path, err := exec.LookPath(h.bin())
	if err != nil {
		return fmt.Errorf("cctest run --env kind installs vCluster from its Helm chart with the helm CLI: %s not found on PATH. "+
			"Install Helm 3, or use --env embedded (default) or --env existing --kubeconfig FILE.", h.bin())
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "version", "--short").CombinedOutput()
	if err != nil {
		return fmt.Errorf("helm (%s) does not work: `helm version`: %v: %s", path, err, firstLine(string(out)))
	}
	return nil
}

// UpgradeInstall runs `helm upgrade --install`; on failure the error holds
// helm's last lines of output.
func (h HelmCLI) UpgradeInstall(ctx context.Context, r Release) error {
	cmd := exec.CommandContext(ctx, h.bin(), r.Args()...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if h.Log != nil {
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if l != "" {
				h.Log("helm: " + l)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("helm %s: %v: %s", strings.Join(r.Args()[:4], " "), err, lastLines(out.String(), 5))
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
