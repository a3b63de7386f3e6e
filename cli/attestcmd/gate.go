package attestcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cctest/cctest/attest/gate"
	"github.com/cctest/cctest/attest/gatetrace"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/internal/exitcode"
)

// kubeletKubeconfig is where kubeadm join leaves the node's credentials.
const kubeletKubeconfig = "/etc/kubernetes/kubelet.conf"

// NewGate returns the gate command: the bootstrap gate before kubeadm join.
func NewGate() *cobra.Command {
	var src source
	var coll collateral
	var policyPath, output, node, kubeconfig string
	var nodeWait time.Duration
	cmd := &cobra.Command{
		Use:   "gate --policy FILE [--annotate-node NAME] [--simulate tdx|snp] -- JOIN-COMMAND [ARGS...]",
		Short: "Verify this machine's TEE evidence, then run the join command only if it passes",
		Long: `gate is the attestation gate in front of node join: it fetches fresh
evidence from this machine's TEE (or a simulator), verifies it against the
policy, prints the verdict to stderr, and only when it passes runs the command
after '--' (e.g. kubeadm join ...) with this process's stdin/stdout/stderr.

With --annotate-node NAME the evidence is bound to "` + gatetrace.ContextPrefix + `NAME" and, once
the join command succeeded, gate writes its trace onto Node NAME with the
node's own credentials (--kubeconfig, kubeadm's kubelet.conf by default): the
annotation ` + gatetrace.Annotation + ` holds the evidence, its nonce and the
verdict's digest. cctest's specs read it and verify the evidence themselves.

Exit status: the join command's status when it ran; 1 when the evidence failed
(the command is not run) or the trace could not be written, 2 for bad usage,
3 when there is no TEE device.`,
		Example: `  cctest gate --policy /etc/cctest/policy.yaml --annotate-node "$(hostname)" -- kubeadm join 10.0.0.1:6443 --token ...
  cctest gate --simulate snp --policy fixtures/policies/platform.yaml -- /opt/join.sh`,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() < 0 || len(args) == 0 {
				return usage("missing the join command after '--' (e.g. cctest gate --policy p.yaml -- kubeadm join ...)")
			}
			if cmd.ArgsLenAtDash() != 0 {
				return usage("unexpected arguments before '--': %s", strings.Join(args[:cmd.ArgsLenAtDash()], " "))
			}
			if err := checkOutput(output); err != nil {
				return err
			}
			d, err := src.device()
			if err != nil {
				return err
			}
			pol, err := loadPolicy(policyPath, d.TEE(), src.simulated())
			if err != nil {
				return err
			}
			// The same gate code runs in the embedded platform's CVMs.
			check, err := gate.Attest(d, verifier.New(coll.options()), pol, node)
			var evErr *gate.EvidenceError
			if errors.As(err, &evErr) {
				return exitcode.New(exitcode.Failed, fmt.Sprintf("gate: %s; not running %s", evErr.Error(), args[0]))
			}
			if err != nil {
				return exitcode.New(exitcode.Failed, err.Error())
			}
			if err := printVerdict(cmd.ErrOrStderr(), check.Verdict, output); err != nil {
				return err
			}
			warnPolicy(cmd.ErrOrStderr(), pol, check.Verdict)
			join := func(ctx context.Context) error {
				c := exec.CommandContext(ctx, args[0], args[1:]...)
				c.Stdin, c.Stdout, c.Stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
				return c.Run()
			}
			annotate := func(ctx context.Context, node, value string) error {
				return annotateNode(ctx, kubeconfig, node, value, nodeWait)
			}
			err = check.Join(cmd.Context(), join, annotate)
			var refused *gate.RefusedError
			var joinErr *gate.JoinError
			var ee *exec.ExitError
			switch {
			case errors.As(err, &refused):
				return exitcode.New(exitcode.Failed, fmt.Sprintf("gate: %s; not running %s", refused.Error(), args[0]))
			case errors.As(err, &joinErr) && errors.As(err, &ee):
				return exitcode.New(ee.ExitCode(), fmt.Sprintf("gate: %s exited with status %d", args[0], ee.ExitCode()))
			case errors.As(err, &joinErr):
				return exitcode.New(exitcode.Failed, fmt.Sprintf("gate: running %s: %v", args[0], joinErr.Err))
			case err != nil:
				return exitcode.New(exitcode.Failed, "gate: "+err.Error())
			}
			if node == "" {
				return nil
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "gate: trace written on node %s (%s)\n", node, gatetrace.Annotation)
			return nil
		},
	}
	src.addFlags(cmd)
	coll.addFlags(cmd)
	cmd.Flags().StringVar(&policyPath, "policy", "", "attestation policy (YAML); with --simulate defaults to the embedded example")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "verdict format on stderr: table or json")
	cmd.Flags().StringVar(&node, "annotate-node", "", "after the join, write the gate trace onto this Node (the name the node registers with)")
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", kubeletKubeconfig, "the node's credentials for --annotate-node")
	cmd.Flags().DurationVar(&nodeWait, "node-wait", 2*time.Minute, "how long --annotate-node waits for the Node to register")
	return cmd
}

// annotateNode writes the trace onto the node's own Node object, waiting for
// the kubelet to register it. NodeRestriction lets a node change its own
// annotations, so the node's credentials suffice.
func annotateNode(ctx context.Context, kubeconfig, node, value string, timeout time.Duration) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("node credentials %s: %w", kubeconfig, err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{gatetrace.Annotation: value}}})
	if err != nil {
		return err
	}
	var last error
	err = wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		_, last = cs.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{})
		return last == nil, ignoreNotFound(last)
	})
	if err != nil && last != nil {
		return fmt.Errorf("Node %s: %w", node, last)
	}
	return err
}

// ignoreNotFound keeps waiting while the kubelet has not registered yet.
func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
