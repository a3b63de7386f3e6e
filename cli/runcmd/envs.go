package runcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/cctest/cctest/api/teename"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/environments"
	embeddedenv "github.com/cctest/cctest/environments/embedded"
	"github.com/cctest/cctest/environments/existing"
	"github.com/cctest/cctest/environments/kind"
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/reports"
)

// Environments `cctest run --env` accepts.
const (
	EnvEmbedded = "embedded"
	EnvExisting = "existing"
	EnvKind     = "kind"
)

// kindLabelFilter: on kind the RuntimeClasses run runc, there are no auto
// nodes, no TEE devices and no attestation service, so only the sync specs
// can mean anything there.
const kindLabelFilter = "runtimeclass-sync"

// defaultKubeconfig is kubectl's convention for --env existing without
// --kubeconfig: the first file of $KUBECONFIG, then ~/.kube/config. It
// never turns a run into --env existing by itself (the embedded platform
// stays the default even where KUBECONFIG is set).
func defaultKubeconfig(o *Options) {
	if o.Env != EnvExisting || o.Kubeconfig != "" {
		return
	}
	for _, p := range filepath.SplitList(os.Getenv("KUBECONFIG")) {
		if p != "" {
			o.Kubeconfig = p
			return
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		if p := filepath.Join(home, ".kube", "config"); fileExists(p) {
			o.Kubeconfig = p
		}
	}
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// resolveEnv checks --env against the other flags and returns the
// environment to use.
func resolveEnv(o Options) (string, error) {
	env := o.Env
	if env == "" {
		env = EnvEmbedded
		if o.Kubeconfig != "" {
			env = EnvExisting
		}
	}
	switch env {
	case EnvEmbedded:
		if o.Kubeconfig != "" {
			return "", errors.New("--env embedded starts its own platform: drop --kubeconfig, or use --env existing")
		}
	case EnvExisting:
		if o.Kubeconfig == "" {
			return "", errors.New("--env existing needs --kubeconfig TENANT_KUBECONFIG, $KUBECONFIG or ~/.kube/config (and --host-kubeconfig for the NodeClaim and inventory specs)")
		}
	case EnvKind:
		if o.Kubeconfig != "" {
			return "", errors.New("--env kind creates its own cluster: drop --kubeconfig, or use --env existing")
		}
	default:
		return "", fmt.Errorf("--env %q: want %s, %s or %s", env, EnvEmbedded, EnvExisting, EnvKind)
	}
	if (o.Context != "" || o.HostContext != "" || o.SharedContext != "") && env != EnvExisting {
		return "", fmt.Errorf("--context, --host-context and --shared-tenant-context pick contexts of an existing environment's kubeconfigs (this run is --env %s)", env)
	}
	if o.TEE != "" && env != EnvExisting {
		return "", fmt.Errorf("--tee is hardware qualification of a real tenant: it needs --env existing (this run is --env %s)", env)
	}
	switch o.Path {
	case PathCVM, PathPod:
	case "":
		if o.TEE != "" {
			return "", errors.New("--tee needs --path: cvm when the node VM is the TEE (cloud Confidential VMs), pod when each Kata pod is a TEE guest on a bare-metal host")
		}
	default:
		return "", fmt.Errorf("--path %q: want %s (the node VM is the TEE) or %s (each Kata pod is a TEE guest)", o.Path, PathCVM, PathPod)
	}
	return env, nil
}

// The runtime paths of the seed: where the TEE sits.
const (
	PathCVM = "cvm" // the node is a cloud Confidential VM
	PathPod = "pod" // each Kata pod is a guest VM on a bare-metal host
)

// pathLabelFilter leaves the other runtime path's specs out of a one-path
// run; specs of neither path label run on both.
func pathLabelFilter(user, path string) string {
	if path == "" {
		return user
	}
	f := "!" + otherPathLabel(path)
	if user != "" {
		f = "(" + user + ") && " + f
	}
	return f
}

func otherPathLabel(path string) string {
	if path == PathCVM {
		return "path:" + PathPod
	}
	return "path:" + PathCVM
}

// hardwareTEEs checks --tee and the policy of a hardware run: evidence must
// chain to vendor roots only.
func hardwareTEEs(tee string, p *policy.Policy) ([]string, error) {
	var t string
	switch tee {
	case "tdx":
		t = teename.TDX
	case "snp", "sev-snp":
		t = teename.SNP
	default:
		return nil, fmt.Errorf("--tee %q: want tdx or snp", tee)
	}
	if p == nil {
		return nil, errors.New("--tee needs --policy: the attestation policy of the node image (see fixtures/policies/tdx-hardware.yaml)")
	}
	if p.UsesTestRoots() {
		return nil, fmt.Errorf("--tee: policy %q trusts the cctest test root (trustRoots: %v); a hardware run accepts vendor roots only", p.Name, p.TrustRoots)
	}
	if w := policy.Weaknesses(p); len(w) > 0 {
		return nil, fmt.Errorf("--tee: policy %q is weak, a hardware run refuses it: %s", p.Name, strings.Join(w, "; "))
	}
	return []string{t}, nil
}

// teeLabelFilter keeps the specs of the other TEE out of a one-TEE run
// (specs labelled with both TEEs adapt to the run's TEEs).
func teeLabelFilter(user string, tees []string) string {
	var other []string
	for _, t := range []string{teename.TDX, teename.SNP} {
		if !slices.Contains(tees, t) {
			other = append(other, "!"+teeLabel(t))
		}
	}
	if len(other) == 0 {
		return user
	}
	f := "(" + strings.Join(other, " && ") + " || " + teeLabel(tees[0]) + ")"
	if user != "" {
		f = "(" + user + ") && " + f
	}
	return f
}

func teeLabel(t string) string {
	if t == teename.SNP {
		return "tee:snp"
	}
	return "tee:tdx"
}

// hardwareProblems are the reasons a hardware run fails beyond failed
// specs: a TEE spec that did not run, or evidence chained to a test root.
func hardwareProblems(r types.Report, tees []string, path string) []string {
	var out []string
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt || s.State != types.SpecStateSkipped {
			continue
		}
		if path != "" && slices.Contains(s.Labels(), otherPathLabel(path)) {
			continue // the other runtime path's spec: left out by --path
		}
		for _, t := range tees {
			if slices.Contains(s.Labels(), teeLabel(t)) || slices.Contains(s.Labels(), "hardware") {
				out = append(out, fmt.Sprintf("hardware spec skipped: %s", s.FullText()))
				break
			}
		}
	}
	for _, e := range reports.EvidenceRecords(r) {
		if e.Evidence.Verdict.Simulated {
			out = append(out, fmt.Sprintf("evidence of %s %s chains to a test root (%s)", e.Evidence.Kind, e.Evidence.Subject, e.Evidence.Verdict.TrustRoot))
		}
	}
	return out
}

// startEnv builds the provider of env, creates the environment with the
// progress lines of each and returns both; the caller destroys it.
func startEnv(ctx context.Context, out io.Writer, o Options, env string, fs faults.Set, reportDir string) (environments.Provider, *environments.Cluster, error) {
	switch env {
	case EnvExisting:
		p := existing.New(existing.Options{
			Tenant: o.Kubeconfig, Host: o.HostKubeconfig, Shared: o.SharedKubeconfig, Others: o.OtherKubeconfigs,
			TenantContext: o.Context, HostContext: o.HostContext, SharedContext: o.SharedContext,
			TenantFlag: "--kubeconfig", HostFlag: "--host-kubeconfig", SharedFlag: "--shared-tenant-kubeconfig",
		})
		c, err := p.Create(ctx)
		if err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(out, "Environment: existing cluster (%s)\n", o.Kubeconfig)
		return p, c, nil
	case EnvKind:
		// Kubeconfigs and the probe image tarball live in a temporary
		// directory, never in the report directory.
		p := kind.NewProvider(kind.Options{Keep: o.Keep, Log: out})
		c, err := p.Create(ctx)
		if err != nil {
			return nil, nil, err
		}
		return p, c, nil
	}
	// Platform state (etcd data, kubeconfigs, the CAs' keys) lives outside
	// the report directory: a temporary directory the provider removes, or
	// with --keep one it leaves (the run prints where).
	dir := ""
	if o.Keep {
		var err error
		if dir, err = os.MkdirTemp("", "cctest-platform-"); err != nil {
			return nil, nil, fmt.Errorf("platform state directory: %w", err)
		}
	}
	p := embeddedenv.New(embeddedenv.Options{Dir: dir, Faults: fs, LogFile: filepath.Join(reportDir, "platform.log")})
	fmt.Fprintf(out, "Starting the embedded platform%s...\n", faultNote(fs))
	sigCtx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	c, err := p.Create(sigCtx)
	stop()
	if err != nil {
		return nil, nil, fmt.Errorf("start the embedded platform: %w", err)
	}
	fmt.Fprintf(out, "Platform ready in %.1fs (log: %s)\n", c.Started.Seconds(), c.LogFile)
	return p, c, nil
}

// keepUp leaves the embedded platform up after a failed run (--keep) until
// SIGINT or SIGTERM.
func keepUp(out io.Writer, c *environments.Cluster) {
	fmt.Fprintf(out, "\nThe platform stays up for inspection (Ctrl-C to stop):\n  export KUBECONFIG=%s\n  kubectl --kubeconfig %s get nodeclaims -A\n",
		c.TenantKubeconfig, c.HostKubeconfig)
	wait, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	<-wait.Done()
	stop()
}
