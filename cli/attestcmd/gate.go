package attestcmd

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cctest/cctest/internal/exitcode"
)

// NewGate returns the gate command: the bootstrap gate before kubeadm join.
func NewGate() *cobra.Command {
	var src source
	var coll collateral
	var policyPath, output string
	cmd := &cobra.Command{
		Use:   "gate --policy FILE [--simulate tdx|snp] -- JOIN-COMMAND [ARGS...]",
		Short: "Verify this machine's TEE evidence, then run the join command only if it passes",
		Long: `gate is the attestation gate in front of node join: it fetches fresh
evidence from this machine's TEE (or a simulator), verifies it against the
policy, prints the verdict to stderr, and only when it passes runs the command
after '--' (e.g. kubeadm join ...) with this process's stdin/stdout/stderr.

Exit status: the join command's status when it ran; 1 when the evidence failed
(the command is not run), 2 when there is no TEE device, 3 for bad usage.`,
		Example: `  cctest gate --policy /etc/cctest/policy.yaml -- kubeadm join 10.0.0.1:6443 --token ... 
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
			_, vd, err := attestLocal(src, coll, policyPath, "cctest gate")
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
			return nil
		},
	}
	src.addFlags(cmd)
	coll.addFlags(cmd)
	cmd.Flags().StringVar(&policyPath, "policy", "", "attestation policy (YAML); with --simulate defaults to the embedded example")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "verdict format on stderr: table or json")
	return cmd
}
