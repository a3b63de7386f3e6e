// Package envcmd is `cctest env up|down`: the embedded platform as a
// long-running environment that kubectl (or `cctest run --kubeconfig`) can use.
package envcmd

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cctest/cctest/environments"
	embeddedenv "github.com/cctest/cctest/environments/embedded"
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/fixtures"
	"github.com/cctest/cctest/internal/exitcode"
	"github.com/cctest/cctest/simulators/embedded"
)

// DefaultDir is where `env up` writes kubeconfigs and state by default.
const DefaultDir = "cctest-env"

// stateFile records the running `env up` process for `env down`.
const stateFile = "cctest-env.json"

type state struct {
	PID              int       `json:"pid"`
	HostKubeconfig   string    `json:"hostKubeconfig"`
	TenantKubeconfig string    `json:"tenantKubeconfig"`
	Started          time.Time `json:"started"`
}

// New returns the env command group.
func New() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Start or stop the embedded platform (host + tenant control planes)",
		Long: `The embedded platform is two real Kubernetes control planes (etcd,
kube-apiserver, kube-scheduler, kube-controller-manager) on 127.0.0.1: the
host cluster and the vCluster tenant. Nothing needs Docker or a network.`,
	}
	cmd.AddCommand(newUp(), newDown())
	return cmd
}

func newUp() *cobra.Command {
	var dir string
	var keep bool
	var faultNames []string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the embedded platform and run until Ctrl-C or SIGTERM",
		Long: `Starts the simulated confidential-compute platform from the reference
configuration: host and tenant control planes, vCluster Platform auto nodes
on a bare-metal inventory of simulated TDX and SEV-SNP machines, the
attestation gate before node join, simulated kubelets with Kata / vNode
runtimes, and pod-level attestation. A pending pod with
nodeSelector confidential-compute=tdx makes a tdx-large node join.`,
		Example: `  # start in the foreground, then in another shell:
  cctest env up --dir /tmp/cc
  kubectl --kubeconfig /tmp/cc/tenant.kubeconfig apply -f workload.yaml
  kubectl --kubeconfig /tmp/cc/host.kubeconfig get nodeclaims -A

  # a broken platform (see cctest faults)
  cctest env up --dir /tmp/cc --fault gate-admits-unattested

  # start in the background and stop it later
  cctest env up --dir /tmp/cc > /tmp/cc.log 2>&1 &
  cctest env down --dir /tmp/cc`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			fs, err := faults.Parse(faultNames...)
			if err != nil {
				return err
			}
			return up(ctx, cmd.OutOrStdout(), dir, keep, fs)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", DefaultDir, "directory for kubeconfigs, logs and cluster data")
	cmd.Flags().StringSliceVar(&faultNames, "fault", nil, "start the platform with a named fault (repeatable; see cctest faults)")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the directory (data, logs) after shutdown")
	return cmd
}

func up(ctx context.Context, out io.Writer, dir string, keep bool, fs faults.Set) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if s, err := readState(dir); err == nil && alive(s.PID) {
		return fmt.Errorf("an environment is already running in %s (pid %d); stop it with: cctest env down --dir %s", dir, s.PID, dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fmt.Fprintf(out, "Starting the embedded platform in %s (host + tenant control planes, simulators)...\n", dir)
	if len(fs) > 0 {
		fmt.Fprintf(out, "Faults: %s\n", strings.Join(fs.Names(), ", "))
	}
	prov := embeddedenv.New(embeddedenv.Options{Dir: dir, Faults: fs, LogFile: filepath.Join(dir, "platform.log")})
	cl, err := prov.Create(ctx)
	if err != nil {
		cleanup(dir, keep)
		return exitcode.New(exitcode.Environment, err.Error())
	}
	s := state{PID: os.Getpid(), HostKubeconfig: cl.HostKubeconfig, TenantKubeconfig: cl.TenantKubeconfig, Started: time.Now()}
	if err := writeState(dir, s); err != nil {
		prov.Destroy(context.WithoutCancel(ctx))
		cleanup(dir, keep)
		return err
	}
	// The platform's attestation policy, for runs against this environment.
	policyFile := filepath.Join(dir, "attestation-policy.yaml")
	if b, err := fixtures.Read(embedded.DefaultPolicy); err == nil {
		err = os.WriteFile(policyFile, b, 0o600)
		if err != nil {
			fmt.Fprintf(out, "warning: could not write %s: %v\n", policyFile, err)
		}
	}
	// The KBS's address, CA and admin key, for the Kata guest specs (they
	// put a secret through the KBS admin API).
	kbsFlags, err := writeKBS(dir, cl.KBS)
	if err != nil {
		fmt.Fprintf(out, "warning: %v (the Kata guest specs will need --kbs-* flags)\n", err)
	}
	fmt.Fprintf(out, `Ready in %.1fs (platform log: %s).
  host:    %s
  tenant:  %s (private nodes, auto nodes, attestation)
  shared:  %s (shared-nodes tenant with RuntimeClass sync)
Use it:
  export KUBECONFIG=%s
  kubectl get nodes
  cctest run --kubeconfig %s --host-kubeconfig %s --shared-tenant-kubeconfig %s --policy %s%s
Stop with Ctrl-C, or: cctest env down --dir %s
`, cl.Started.Seconds(), cl.LogFile, s.HostKubeconfig, s.TenantKubeconfig, cl.SharedKubeconfig, s.TenantKubeconfig,
		s.TenantKubeconfig, s.HostKubeconfig, cl.SharedKubeconfig, policyFile, kbsFlags, dir)

	var crashed error
	pair := prov.Platform().Pair
	select {
	case <-ctx.Done():
	case <-pair.Host.Exited():
		crashed = fmt.Errorf("host control plane exited unexpectedly; see %s", pair.Host.Log)
	case <-pair.Tenant.Exited():
		crashed = fmt.Errorf("tenant control plane exited unexpectedly; see %s", pair.Tenant.Log)
	}
	fmt.Fprintln(out, "Shutting down...")
	stopErr := prov.Destroy(context.WithoutCancel(ctx))
	os.Remove(filepath.Join(dir, stateFile))
	cleanup(dir, keep)
	if keep {
		fmt.Fprintf(out, "Stopped; data and logs kept in %s\n", dir)
	} else {
		fmt.Fprintln(out, "Stopped.")
	}
	return errors.Join(crashed, stopErr)
}

func cleanup(dir string, keep bool) {
	if !keep {
		os.RemoveAll(dir)
	}
}

func newDown() *cobra.Command {
	var dir string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:     "down",
		Short:   "Stop an environment started with `cctest env up` in the background",
		Example: `  cctest env down --dir /tmp/cc`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return down(cmd.OutOrStdout(), dir, wait)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", DefaultDir, "directory given to `cctest env up`")
	cmd.Flags().DurationVar(&wait, "wait", 60*time.Second, "how long to wait for a clean shutdown")
	return cmd
}

func down(out io.Writer, dir string, wait time.Duration) error {
	s, err := readState(dir)
	if err != nil {
		return fmt.Errorf("no running environment in %s: %w", dir, err)
	}
	if !alive(s.PID) {
		os.Remove(filepath.Join(dir, stateFile))
		return fmt.Errorf("the environment in %s (pid %d) is not running any more; removed its stale state file", dir, s.PID)
	}
	if err := syscall.Kill(s.PID, syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop pid %d: %w", s.PID, err)
	}
	fmt.Fprintf(out, "Stopping the environment in %s (pid %d)...\n", dir, s.PID)
	deadline := time.Now().Add(wait)
	for alive(s.PID) {
		if time.Now().After(deadline) {
			return fmt.Errorf("pid %d still running after %s", s.PID, wait)
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintln(out, "Stopped.")
	return nil
}

func readState(dir string) (state, error) {
	var s state
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	return s, nil
}

func writeState(dir string, s state) error {
	b, _ := json.MarshalIndent(s, "", "  ")
	return os.WriteFile(filepath.Join(dir, stateFile), b, 0o600)
}

// alive reports whether a process exists and is not a zombie.
func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// Field 3 of /proc/PID/stat is the state; after the ")" of the command name.
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ')' {
			return i+2 < len(b) && b[i+2] != 'Z'
		}
	}
	return true
}

// writeKBS writes the KBS's CA bundle and admin key (PKCS #8 PEM, as
// `openssl genpkey -algorithm ed25519` writes it) into dir and returns the
// `cctest run` flags that name them.
func writeKBS(dir string, k *environments.KBS) (string, error) {
	if k == nil || k.URL == "" {
		return "", errors.New("the platform serves no KBS")
	}
	flags := " \\\n    --kbs-url " + k.URL
	if len(k.CAPEM) > 0 {
		ca := filepath.Join(dir, "kbs-ca.pem")
		if err := os.WriteFile(ca, k.CAPEM, 0o600); err != nil {
			return "", fmt.Errorf("write the KBS CA: %w", err)
		}
		flags += " --kbs-ca " + ca
	}
	if k.AdminKey != nil {
		der, err := x509.MarshalPKCS8PrivateKey(k.AdminKey)
		if err != nil {
			return "", fmt.Errorf("encode the KBS admin key: %w", err)
		}
		key := filepath.Join(dir, "kbs-admin.key")
		if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return "", fmt.Errorf("write the KBS admin key: %w", err)
		}
		flags += " --kbs-admin-key " + key
	}
	return flags, nil
}
