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

	"github.com/cctest/cctest/attest/gatetrace"
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
			nonce, err := freshNonce()
			if err != nil {
				return err
			}
			bind := "cctest gate"
			if node != "" {
				bind = gatetrace.Context(node)
			}
			ev, vd, err := attestLocal(src, coll, policyPath, nonce, bind, cmd.ErrOrStderr())
			var ee *exitcode.Error
			if errors.As(err, &ee) && ee.Code == exitcode.Failed {
				return exitcode.New(exitcode.Failed, fmt.Sprintf("gate: %s; not running %s", ee.Msg, args[0]))
			}
			if err != nil {
				return err
			}
			if err := printVerdict(cmd.ErrOrStderr(), vd, output); err != nil {
				return err
			}
			if !vd.Pass {
				return exitcode.New(exitcode.Failed, fmt.Sprintf("gate: attestation failed (%s); not running %s", vd.Reason, args[0]))
			}
			join := exec.CommandContext(cmd.Context(), args[0], args[1:]...)
			join.Stdin, join.Stdout, join.Stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
			if err := join.Run(); err != nil {
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					return exitcode.New(ee.ExitCode(), fmt.Sprintf("gate: %s exited with status %d", args[0], ee.ExitCode()))
				}
				return exitcode.New(exitcode.Failed, fmt.Sprintf("gate: running %s: %v", args[0], err))
			}
			if node == "" {
				return nil
			}
			trace, err := gatetrace.New(node, nonce, ev, vd)
			if err != nil {
				return exitcode.New(exitcode.Failed, "gate: "+err.Error())
			}
			if err := annotateNode(cmd.Context(), kubeconfig, node, trace, nodeWait); err != nil {
				return exitcode.New(exitcode.Failed, fmt.Sprintf("gate: %s joined, but its trace was not written: %v", node, err))
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
func annotateNode(ctx context.Context, kubeconfig, node string, t gatetrace.Trace, timeout time.Duration) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("node credentials %s: %w", kubeconfig, err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	value, err := t.Encode()
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
