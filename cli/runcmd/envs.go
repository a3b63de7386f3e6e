package runcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
	"k8s.io/client-go/rest"

	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/environments/kind"
	"github.com/cctest/cctest/environments/kubeconfig"
	"github.com/cctest/cctest/framework"
	"github.com/cctest/cctest/probe/image"
	"github.com/cctest/cctest/reports"
	"github.com/cctest/cctest/simulators/controlplane"
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
			return "", errors.New("--env existing needs --kubeconfig TENANT_KUBECONFIG (and --host-kubeconfig for the NodeClaim and inventory specs)")
		}
	case EnvKind:
		if o.Kubeconfig != "" {
			return "", errors.New("--env kind creates its own cluster: drop --kubeconfig, or use --env existing")
		}
	default:
		return "", fmt.Errorf("--env %q: want %s, %s or %s", env, EnvEmbedded, EnvExisting, EnvKind)
	}
	if o.TEE != "" && env != EnvExisting {
		return "", fmt.Errorf("--tee is hardware qualification of a real tenant: it needs --env existing (this run is --env %s)", env)
	}
	return env, nil
}

// hardwareTEEs checks --tee and the policy of a hardware run: evidence must
// chain to vendor roots only.
func hardwareTEEs(tee string, p *policy.Policy) ([]string, error) {
	var t string
	switch tee {
	case "tdx":
		t = policy.TEETDX
	case "snp", "sev-snp":
		t = policy.TEESNP
	default:
		return nil, fmt.Errorf("--tee %q: want tdx or snp", tee)
	}
	if p == nil {
		return nil, errors.New("--tee needs --policy: the attestation policy of the node image (see fixtures/policies/tdx-hardware.yaml)")
	}
	if p.UsesTestRoots() {
		return nil, fmt.Errorf("--tee: policy %q trusts the cctest test root (trustRoots: %v); a hardware run accepts vendor roots only", p.Name, p.TrustRoots)
	}
	return []string{t}, nil
}

// teeLabelFilter keeps the specs of the other TEE out of a one-TEE run
// (specs labelled with both TEEs adapt to the run's TEEs).
func teeLabelFilter(user string, tees []string) string {
	var other []string
	for _, t := range []string{policy.TEETDX, policy.TEESNP} {
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
	if t == policy.TEESNP {
		return "tee:snp"
	}
	return "tee:tdx"
}

// hardwareProblems are the reasons a hardware run fails beyond failed
// specs: a TEE spec that did not run, or evidence chained to a test root.
func hardwareProblems(r types.Report, tees []string) []string {
	var out []string
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt || s.State != types.SpecStateSkipped {
			continue
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

// existing connects to a running environment through its kubeconfigs and
// fails early, naming the cluster, when one cannot be reached.
func existing(ctx context.Context, tenant, host, shared string) (framework.Environment, error) {
	load := func(path, flag, what string) (*rest.Config, error) {
		cfg, err := kubeconfig.Load(path, what)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		if err := kubeconfig.WaitReachable(ctx, cfg, what, 20*time.Second); err != nil {
			return nil, fmt.Errorf("%s %s: %w", flag, path, err)
		}
		return tune(cfg), nil
	}
	tc, err := load(tenant, "--kubeconfig", "the tenant")
	if err != nil {
		return nil, err
	}
	env := framework.Static{EnvName: EnvExisting, TenantConfig: tc, Scale: 5}
	if host != "" {
		if env.HostConfig, err = load(host, "--host-kubeconfig", "the host cluster"); err != nil {
			return nil, err
		}
	}
	if shared != "" {
		if env.SharedConfig, err = load(shared, "--shared-tenant-kubeconfig", "the shared-nodes tenant"); err != nil {
			return nil, err
		}
	}
	return env, nil
}

// startKind creates the kind environment: the probe image from the
// cctest-probe binary beside cctest, then the cluster, vCluster and the
// host RuntimeClasses. The returned close deletes the cluster (unless keep).
func startKind(ctx context.Context, out io.Writer, o Options, reportDir string) (framework.Environment, string, func(), error) {
	if err := kind.CheckEngine(); err != nil {
		return nil, "", nil, err
	}
	bin, err := controlplane.Binary()
	if err != nil {
		return nil, "", nil, err
	}
	probeBin := filepath.Join(filepath.Dir(bin), "cctest-probe")
	if _, err := os.Stat(probeBin); err != nil {
		return nil, "", nil, fmt.Errorf("--env kind needs the probe binary beside cctest (%s): build it with `make probe`", probeBin)
	}
	dir := filepath.Join(reportDir, "kind")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", nil, err
	}
	tar := filepath.Join(dir, "probe-image.tar")
	if err := image.Build(probeBin, "", tar); err != nil {
		return nil, "", nil, fmt.Errorf("probe image: %w", err)
	}
	cl, err := kind.Create(ctx, kind.Options{Dir: dir, ProbeImageTar: tar, Keep: o.Keep, Log: out})
	if err != nil {
		return nil, "", nil, err
	}
	closeFn := func() { cl.Close(context.WithoutCancel(ctx)) }
	for _, gap := range cl.Gaps {
		fmt.Fprintf(out, "kind environment gap: %s\n", gap)
	}
	env, err := existing(ctx, cl.TenantKubeconfig, cl.HostKubeconfig, cl.TenantKubeconfig)
	if err != nil {
		closeFn()
		return nil, "", nil, err
	}
	st := env.(framework.Static)
	st.EnvName = EnvKind
	return st, cl.ProbeImage, closeFn, nil
}
