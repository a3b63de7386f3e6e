// Package command is `cctest probe attest|egress|runtime` (also the whole
// of the small cctest-probe binary): checks that must run on a node, inside
// a pod. The outcome is the exit code (0 pass, 1 fail, 2 usage) and a
// one-line JSON termination message (package probe's Result). The
// simulated kubelet runs the same commands through Run with the node's
// simulated device and pod network.
package command

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cctest/cctest/internal/exitcode"

	"github.com/spf13/cobra"

	"github.com/cctest/cctest/probe"
)

// DefaultTerminationLog is where the kubelet reads the termination message.
const DefaultTerminationLog = "/dev/termination-log"

// ExitError is a probe that ran and failed, or could not run.
type ExitError struct {
	Code   int
	Result probe.Result
}

func (e *ExitError) Error() string { return e.Result.Probe + " probe failed: " + e.Result.Reason }
func (e *ExitError) ExitCode() int { return e.Code }

// New is the probe command in a real container.
func New() *cobra.Command { return NewWith(nil) }

// common flags of every probe.
type common struct {
	env            *probe.Env
	node, podUID   string
	terminationLog string
	timeout        time.Duration
}

// NewWith builds the command against an environment (nil = the real one).
func NewWith(env *probe.Env) *cobra.Command {
	c := &common{env: env}
	cmd := &cobra.Command{
		Use:   "probe",
		Short: "Checks that run on a node, inside a pod (attest, egress, runtime)",
		Long: `Probes run in a pod on the node under test and report through their exit
code (0 pass, 1 fail, 2 usage) and a one-line JSON termination message:
{"probe", "pass", "reason", "node", ...}, plus the same line on stdout.

Set in the pod: env POD_UID (fieldRef metadata.uid) and NODE_NAME (fieldRef
spec.nodeName). On simulated nodes the simulated kubelet runs the same code
with the node's simulated TEE device and pod network.`,
		Example: `  # evidence bound to the spec's nonce, judged by the in-cluster attestation service
  cctest probe attest --discover --nonce 5f1c...e9
  # egress to the attestation service must work, to anything else it must not
  cctest probe egress --target attestation.cctest-system.svc:8443
  cctest probe egress --target 203.0.113.7:443 --expect blocked
  # the pod runs in a TDX Kata guest
  cctest probe runtime --expect-tee tdx --expect-sandbox vm`,
		SilenceUsage: true,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&c.node, "node", env.LookupEnv(probe.EnvNodeName), "node name to report (default $NODE_NAME)")
	pf.StringVar(&c.podUID, "pod-uid", env.LookupEnv(probe.EnvPodUID), "this pod's UID, which evidence is bound to (default $POD_UID)")
	pf.StringVar(&c.terminationLog, "termination-log", DefaultTerminationLog, "file for the termination message (\"\" = none)")
	pf.DurationVar(&c.timeout, "timeout", 0, "give up after this long (default 60s for attest, 5s for egress)")
	cmd.AddCommand(c.attestCmd(), c.egressCmd(), c.runtimeCmd(), c.guestCmd(), c.idleCmd())
	return cmd
}

// finish reports a result: stdout line, termination message, exit code.
func (c *common) finish(cmd *cobra.Command, r probe.Result) error {
	fmt.Fprintln(c.env.Out(), r.Line())
	if err := c.env.WriteTermination(c.terminationLog, r.Message()); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "probe: writing the termination message: %v\n", err)
	}
	if !r.Pass {
		return &ExitError{Code: exitcode.Failed, Result: r}
	}
	return nil
}

func (c *common) attestCmd() *cobra.Command {
	var service, caFile, nonceHex, reportDataHex string
	var noSubmit bool
	var discover bool
	cmd := &cobra.Command{
		Use:   "attest (--service URL | --discover) [--nonce HEX]",
		Short: "Fetch evidence from this pod's TEE bound to a nonce and have the attestation service judge it",
		Long: `Fetches evidence from the TEE device (configfs-tsm, /dev/tdx_guest,
/dev/sev-guest) with REPORT_DATA = BindReportData(nonce, "probe:"+POD_UID),
submits it to the attestation service and reports the verdict. The message
carries the nonce, the evidence (base64, compressed; left out when too large
for the 4096-byte termination message) and a verdict summary with its URL, so a spec
can verify the evidence itself.

--discover uses $CCTEST_ATTESTATION_URL, else https://attestation.cctest-system.svc:8443;
the CA is --ca-file, else $CCTEST_ATTESTATION_CA (PEM), else the pod's
service-account CA.

--report-data HEX (with --no-submit) asks the device for evidence with this
REPORT_DATA (at most 64 bytes, zero-padded) instead: for a caller that binds
evidence itself, e.g. a KBS client's SHA-384 of its runtime data.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if service != "" && discover {
				return c.usage(cmd, "attest", "--service and --discover are exclusive")
			}
			var nonce []byte
			if nonceHex != "" {
				var err error
				if nonce, err = hex.DecodeString(nonceHex); err != nil || len(nonce) == 0 {
					return c.usage(cmd, "attest", fmt.Sprintf("--nonce %q: want hex", nonceHex))
				}
			}
			var rd []byte
			if reportDataHex != "" {
				var err error
				if rd, err = hex.DecodeString(reportDataHex); err != nil || len(rd) == 0 || len(rd) > 64 {
					return c.usage(cmd, "attest", fmt.Sprintf("--report-data %q: want 1 to 64 bytes in hex", reportDataHex))
				}
			}
			return c.finish(cmd, probe.Attest(cmd.Context(), c.env, probe.AttestOptions{
				ServiceURL: service, CAFile: caFile, Nonce: nonce, NoSubmit: noSubmit, ReportData: rd, Node: c.node, PodUID: c.podUID, Timeout: c.timeout}))
		},
	}
	f := cmd.Flags()
	f.StringVar(&service, "service", "", "attestation service URL, e.g. https://attestation.cctest-system.svc:8443")
	f.BoolVar(&discover, "discover", false, "find the service in-cluster ($CCTEST_ATTESTATION_URL or the cctest-system convention)")
	f.StringVar(&caFile, "ca-file", "", "CA bundle the service's certificate chains to")
	f.StringVar(&nonceHex, "nonce", "", "nonce (hex) from the attestation service's challenge; default: ask the service")
	f.BoolVar(&noSubmit, "no-submit", false, "return the evidence without submitting it (needs --nonce or --report-data): the caller submits it")
	f.StringVar(&reportDataHex, "report-data", "", "REPORT_DATA (hex, at most 64 bytes) for the evidence, instead of binding --nonce (needs --no-submit)")
	return cmd
}

func (c *common) egressCmd() *cobra.Command {
	var target, expect string
	cmd := &cobra.Command{
		Use:   "egress --target HOST:PORT [--expect reachable|blocked]",
		Short: "Try a TCP connection from this pod and report whether egress is allowed",
		Long: `Opens a TCP connection to --target. Reachable = connected or refused by the
destination (the packets got through); blocked = timed out (dropped by a
NetworkPolicy), including a DNS lookup that timed out.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if target == "" {
				return c.usage(cmd, "egress", "--target HOST:PORT is required")
			}
			if expect != "reachable" && expect != "blocked" {
				return c.usage(cmd, "egress", fmt.Sprintf("--expect %q: want reachable or blocked", expect))
			}
			return c.finish(cmd, probe.Egress(cmd.Context(), c.env, probe.EgressOptions{
				Target: target, ExpectBlocked: expect == "blocked", Node: c.node, Timeout: c.timeout}))
		},
	}
	cmd.Flags().StringVar(&target, "target", "", "destination HOST:PORT")
	cmd.Flags().StringVar(&expect, "expect", "reachable", "reachable or blocked: which outcome passes")
	return cmd
}

func (c *common) runtimeCmd() *cobra.Command {
	var o probe.RuntimeOptions
	cmd := &cobra.Command{
		Use:   "runtime [--expect-handler H] [--expect-tee T] [--expect-sandbox vm|container]",
		Short: "Report the runtime handler / sandbox / TEE this pod runs in",
		Long: `Reports the sandbox (a Kata VM guest or a container), the TEE device visible
in it (tdx, sev-snp) and, where the node tells, the RuntimeClass handler.
Passes when every given expectation holds. A visible device is not evidence:
use "probe attest" for that.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Node = c.node
			return c.finish(cmd, probe.Runtime(c.env, o))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.ExpectHandler, "expect-handler", "", "expected RuntimeClass handler, e.g. kata-qemu-tdx")
	f.StringVar(&o.ExpectTEE, "expect-tee", "", "expected TEE: tdx or sev-snp")
	f.StringVar(&o.ExpectSandbox, "expect-sandbox", "", "expected sandbox: vm or container")
	f.StringVar(&o.HostRoot, "host-root", "", "where the pod mounts the host's /sys/firmware/efi/efivars and /dev: also report Shielded VM features (secure boot, vTPM)")
	return cmd
}

func (c *common) guestCmd() *cobra.Command {
	var o probe.GuestOptions
	cmd := &cobra.Command{
		Use:   "guest [--runtime-data NONCE] [--resource REPO/TYPE/TAG] [--env NAME]",
		Short: "Ask the Confidential Containers guest API inside this pod for evidence and a KBS resource",
		Long: `Talks to the CoCo guest components' REST API (api-server-rest, 127.0.0.1:8006
inside a Kata confidential guest):

  --runtime-data   GET /aa/evidence?runtime_data=...: evidence with these bytes
                   (≤ 64 printable characters, e.g. a 64-hex-digit nonce) as
                   REPORT_DATA. Needs the guest API's attestation feature:
                   kernel parameter agent.guest_components_rest_api=all.
  --resource       GET /cdh/resource/REPO/TYPE/TAG: the KBS resource, released
                   only after the guest attested; its SHA-256 is reported.
  --env            an environment variable holding the same resource as a sealed
                   secret: reports whether the process started with it unsealed.

Secrets are reported as SHA-256 digests only; the attestation token (whose
answer carries the TEE private key) is never asked for.`,
		Example: `  cctest probe guest --runtime-data 5f1e...c2 --resource cctest/secret/run-1 --env SECRET`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.RuntimeData == "" && o.Resource == "" && o.Env == "" {
				return c.usage(cmd, "guest", "give at least one of --runtime-data, --resource, --env")
			}
			if len(o.RuntimeData) > 64 {
				return c.usage(cmd, "guest", fmt.Sprintf("--runtime-data is %d bytes: REPORT_DATA holds 64", len(o.RuntimeData)))
			}
			o.Node, o.Timeout = c.node, c.timeout
			return c.finish(cmd, probe.Guest(cmd.Context(), c.env, o))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.URL, "url", "", "guest API URL (default http://127.0.0.1:8006)")
	f.StringVar(&o.RuntimeData, "runtime-data", "", "bytes for REPORT_DATA (≤ 64 printable characters)")
	f.StringVar(&o.Resource, "resource", "", "KBS resource REPO/TYPE/TAG to fetch through the data hub")
	f.StringVar(&o.Env, "env", "", "environment variable holding the same resource as a sealed secret")
	return cmd
}

// idleCmd is the workload container of spec pods: it runs until the
// kubelet stops it, so the specs need no image but the probe's.
func (c *common) idleCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "idle",
		Short: "Run until stopped (SIGTERM / SIGINT): the workload container of spec pods",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			<-ctx.Done()
			return c.finish(cmd, probe.Result{Probe: "idle", Node: c.node, Pass: true, Reason: "stopped"})
		},
	}
}

// usage reports a probe that could not run as asked.
func (c *common) usage(cmd *cobra.Command, probeName, msg string) error {
	err := c.finish(cmd, probe.Result{Probe: probeName, Node: c.node, Reason: "usage: " + msg})
	var ee *ExitError
	if errors.As(err, &ee) {
		ee.Code = exitcode.Usage
	}
	return err
}

// Run executes a probe command line (what follows "probe"; a leading
// "probe" is skipped) against env, the way the container would, and returns
// its exit code and termination message. The message is also written
// through env.WriteFile (the simulated kubelet makes that a no-op).
func Run(ctx context.Context, env *probe.Env, args []string) (int, string) {
	if len(args) > 0 && args[0] == "probe" {
		args = args[1:]
	}
	if env == nil {
		env = &probe.Env{}
	}
	write := env.WriteFile
	if write == nil {
		write = writeTerminationLog
	}
	var msg string
	inner := *env
	inner.WriteFile = func(path string, data []byte) error { msg = string(data); return write(path, data) }
	cmd := NewWith(&inner)
	cmd.SetArgs(args)
	cmd.SetOut(inner.Out())
	cmd.SetErr(io.Discard)
	err := cmd.ExecuteContext(ctx)
	var ee *ExitError
	switch {
	case errors.As(err, &ee):
		return ee.Code, msg
	case err == nil && msg != "":
		return 0, msg
	case err == nil && helpAsked(args):
		return 0, ""
	}
	reason := "usage: name a probe: attest, egress or runtime"
	if err != nil {
		reason = "usage: " + err.Error()
	}
	msg = probe.Result{Probe: probeName(args), Reason: reason}.Message()
	_ = write(DefaultTerminationLog, []byte(msg))
	return exitcode.Usage, msg
}

// Main is the cctest-probe binary: run the probe in this container, print
// a failure's reason on stderr, return the exit code.
func Main(args []string) int {
	code, msg := Run(context.Background(), nil, args)
	if code != 0 {
		if r, err := probe.ParseMessage(msg); err == nil {
			fmt.Fprintf(os.Stderr, "%s probe failed: %s\n", r.Probe, r.Reason)
		}
	}
	return code
}

// writeTerminationLog writes the message; the default path is written only
// where the kubelet created it (inside a pod), never created elsewhere.
func writeTerminationLog(path string, data []byte) error {
	if path == "" {
		return nil
	}
	if path == DefaultTerminationLog {
		if _, err := os.Stat(path); err != nil {
			return nil
		}
	}
	return os.WriteFile(path, data, 0o644)
}

func helpAsked(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "help" {
			return true
		}
	}
	return false
}

func probeName(args []string) string {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return "probe"
}
