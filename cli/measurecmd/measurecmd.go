// Package measurecmd is `cctest measure` (write a node image release's
// measurement record from a trusted machine's evidence) and `cctest policy
// add-release` (allow a measured release in a policy file).
package measurecmd

import (
	"crypto/rand"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/cctest/cctest/api/teename"
	"github.com/cctest/cctest/attest/release"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/internal/exitcode"
	"github.com/cctest/cctest/simulators/tee"
	"github.com/cctest/cctest/simulators/tee/simdevice"
)

func usage(format string, args ...any) error {
	return exitcode.New(exitcode.Usage, fmt.Sprintf(format, args...))
}

// New returns the measure command.
func New() *cobra.Command {
	var evidencePath, simulate, out, name, nodeType, vmSize, cmdline string
	var faults []string
	cmd := &cobra.Command{
		Use:   "measure --name RELEASE (--evidence FILE | --simulate tdx|snp) -o RECORD.json",
		Short: "Write a node image release's measurement record from a trusted machine's evidence",
		Long: `measure reads the measurements of a node image release from the evidence of a
TRUSTED machine that booted it (verify that evidence with 'cctest attest' first:
measure does not check its signature) and writes a versioned JSON record:
node type, VM size, TDX MRTD and RTMR0-2 with the CCEL events behind them, or
the SEV-SNP launch measurement with guest policy, family and image IDs.
A TDX event log in the evidence must replay to the quote's RTMRs.
RTMR0 and the SNP measurement depend on the VM size: measure each size.

The record is written to a temporary file and renamed, so a reader never sees
half of it. Allow it in a policy with 'cctest policy add-release'.`,
		Example: `  cctest attest --policy tdx-hardware.yaml --save-evidence trusted.json
  cctest measure --evidence trusted.json --name node-2026.12-c3-8 --node-type gcp-c3 --vm-size c3-standard-8 -o rel.json
  cctest measure --simulate tdx --name sim-release -o rel.json`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" || out == "" {
				return usage("--name and -o are required")
			}
			if (evidencePath == "") == (simulate == "") {
				return usage("give exactly one of --evidence and --simulate")
			}
			var ev verifier.Evidence
			var err error
			if evidencePath != "" {
				if len(faults) > 0 || cmdline != "" {
					return usage("--simulate-fault and --kernel-cmdline need --simulate")
				}
				data, err := os.ReadFile(evidencePath)
				if err != nil {
					return usage("--evidence: %v", err)
				}
				if ev, err = verifier.ParseEvidence(data); err != nil {
					return usage("--evidence %s: %v", evidencePath, err)
				}
			} else if ev, err = simulated(simulate, faults, cmdline); err != nil {
				return err
			}
			rec, err := verifier.MeasureRelease(ev, name, nodeType, vmSize, time.Now())
			if err != nil {
				return exitcode.New(exitcode.Failed, "measure: "+err.Error())
			}
			if err := rec.WriteFile(out); err != nil {
				return exitcode.New(exitcode.Failed, "writing the record: "+err.Error())
			}
			w := cmd.OutOrStdout()
			switch {
			case rec.TDX != nil:
				fmt.Fprintf(w, "wrote %s: TDX release %q, MRTD %s…, RTMR0-2, %d events\n", out, name, rec.TDX.MRTD[:16], len(rec.TDX.Events))
				if len(rec.TDX.Events) == 0 {
					fmt.Fprintln(w, "note: the evidence carries no CCEL event log: only the register values are recorded")
				}
			case rec.SNP != nil:
				fmt.Fprintf(w, "wrote %s: SEV-SNP release %q, measurement %s…, guest policy %s\n", out, name, rec.SNP.Measurement[:16], rec.SNP.GuestPolicy)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&evidencePath, "evidence", "", "the trusted machine's evidence (cctest evidence JSON, or a raw quote / report)")
	f.StringVar(&simulate, "simulate", "", "measure a fresh simulated machine instead: tdx (with a CCEL event log) or snp")
	f.StringArrayVar(&faults, "simulate-fault", nil, "with --simulate, switch on a fault (repeatable)")
	f.StringVar(&cmdline, "kernel-cmdline", "", "with --simulate tdx, the simulated image's kernel command line")
	f.StringVarP(&out, "output", "o", "", "record file to write (JSON)")
	f.StringVar(&name, "name", "", "release name, as the policy allowlist will list it")
	f.StringVar(&nodeType, "node-type", "", "node type the release was measured on (e.g. gcp-c3)")
	f.StringVar(&vmSize, "vm-size", "", "VM size the release was measured on (RTMR0 / SNP measurement depend on it)")
	return cmd
}

func simulated(name string, faultNames []string, cmdline string) (verifier.Evidence, error) {
	var m tee.Machine
	switch name {
	case "tdx":
		var faults []tee.Fault
		for _, n := range faultNames {
			f, err := tee.ParseFault(teename.TDX, n)
			if err != nil {
				return verifier.Evidence{}, usage("--simulate-fault: %v", err)
			}
			faults = append(faults, f)
		}
		b := tee.DefaultBootChain()
		if cmdline != "" {
			b.Cmdline = cmdline
		}
		m = tee.NewTDXMachine(tee.TDXOptions{Name: "trusted-sim", Boot: &b, Faults: faults})
	case "snp", "sev-snp":
		if cmdline != "" {
			return verifier.Evidence{}, usage("--kernel-cmdline applies to --simulate tdx")
		}
		var faults []tee.Fault
		for _, n := range faultNames {
			f, err := tee.ParseFault(teename.SNP, n)
			if err != nil {
				return verifier.Evidence{}, usage("--simulate-fault: %v", err)
			}
			faults = append(faults, f)
		}
		sm, err := tee.NewSNPMachine(tee.SNPOptions{Name: "trusted-sim", Faults: faults})
		if err != nil {
			return verifier.Evidence{}, usage("%v", err)
		}
		m = sm
	default:
		return verifier.Evidence{}, usage("--simulate %q: want tdx or snp", name)
	}
	var rd [64]byte
	if _, err := rand.Read(rd[:]); err != nil {
		return verifier.Evidence{}, err
	}
	ev, err := simdevice.New(m).Evidence(rd)
	if err != nil {
		return ev, exitcode.New(exitcode.Failed, "simulated evidence: "+err.Error())
	}
	return ev, nil
}

// NewPolicy returns the policy command (add-release, remove-release).
func NewPolicy() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Edit attestation policy files",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newAddRelease(), newRemoveRelease())
	return cmd
}

func newAddRelease() *cobra.Command {
	var policyPath string
	cmd := &cobra.Command{
		Use:   "add-release RECORD --policy FILE",
		Short: "Allow a measured release (cctest measure's record) in a policy file",
		Long: `add-release adds a release record's values to the policy's allowlist for its
TEE: TDX MRTD, RTMR0-2 and the release's events (so a later mismatch names the
event that changed, e.g. the kernel command line with old and new text), or
the SEV-SNP launch measurement (guest policy, family and image IDs go into
the entry's comment). The file is edited in place, keeping comments, key
order and layout; it is written via a temporary file and rename and left
untouched on any error (an entry with the same name or values, a policy
without a section for the record's TEE, a policy or record that does not load).`,
		Example:       `  cctest policy add-release rel.json --policy tdx-hardware.yaml`,
		Args:          cobra.ExactArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if policyPath == "" {
				return usage("--policy is required")
			}
			rec, err := release.LoadFile(args[0])
			if err != nil {
				return usage("%v", err)
			}
			if err := release.AddToPolicyFile(policyPath, rec); err != nil {
				return usage("add-release: %v", err)
			}
			section := map[bool]string{true: "tdx", false: "snp"}[rec.TDX != nil]
			fmt.Fprintf(cmd.OutOrStdout(), "added release %q to %s (%s.allowedMeasurements)\n", rec.Name, policyPath, section)
			return nil
		},
	}
	cmd.Flags().StringVar(&policyPath, "policy", "", "policy file to edit (YAML)")
	return cmd
}

func newRemoveRelease() *cobra.Command {
	var policyPath string
	cmd := &cobra.Command{
		Use:   "remove-release NAME --policy FILE",
		Short: "Stop allowing a release: remove its allowlist entry from a policy file",
		Long: `remove-release removes the allowlist entry named NAME (tdx or snp
allowedMeasurements) from the policy. Comments stay; the layout may be
normalised. The file is written via a temporary file and rename and left
untouched on any error (no entry of that name, a policy that does not load).`,
		Example:       `  cctest policy remove-release node-2026.10 --policy tdx-hardware.yaml`,
		Args:          cobra.ExactArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if policyPath == "" {
				return usage("--policy is required")
			}
			if err := release.RemoveFromPolicyFile(policyPath, args[0]); err != nil {
				return usage("remove-release: %v", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed release %q from %s\n", args[0], policyPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&policyPath, "policy", "", "policy file to edit (YAML)")
	return cmd
}
