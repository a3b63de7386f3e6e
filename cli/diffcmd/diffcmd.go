// Package diffcmd is `cctest diff OLD NEW`: what changed between two runs
// (report directories or report.json) or two node image releases (release
// records from cctest measure), and for TDX which events changed a register.
package diffcmd

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/onsi/ginkgo/v2/types"
	"github.com/spf13/cobra"

	"github.com/cctest/cctest/attest/release"
	"github.com/cctest/cctest/internal/exitcode"
	"github.com/cctest/cctest/reports"
)

// New returns the diff command.
func New() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "diff OLD NEW [-o text|json]",
		Short: "Explain what changed between two runs or two node image releases",
		Long: `diff compares two runs (their report directories or report.json): the specs
whose outcome changed, and per node type its verdict, the measurements and the
TCBs its nodes reported. Given two release records (cctest measure), it lists
the registers that changed and, from their event logs, why:
  RTMR2: kernel command line changed: "console=ttyS0 ro" → "console=ttyS0 ro debug"

Exit status, as diff(1): 0 no differences, 1 differences, 2 bad input.`,
		Example: `  cctest diff last-release/cctest-results cctest-results
  cctest diff node-2026.11.json node-2026.12.json -o json`,
		Args:          cobra.ExactArgs(2),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return exitcode.New(exitcode.Usage, fmt.Sprintf("-o %q: want text or json", output))
			}
			same, err := diff(cmd.OutOrStdout(), args[0], args[1], output)
			if err != nil {
				return exitcode.New(exitcode.Usage, err.Error())
			}
			if !same {
				return exitcode.New(exitcode.Failed, "they differ")
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

// diff writes the differences and says whether there were none.
func diff(w io.Writer, oldPath, newPath, output string) (bool, error) {
	if ro, err := release.LoadFile(oldPath); err == nil {
		rn, err := release.LoadFile(newPath)
		if err != nil {
			return false, fmt.Errorf("%s is a release record, but %s is not: %w", oldPath, newPath, err)
		}
		changes := release.Diff(ro, rn)
		if output == "json" {
			return len(changes) == 0, encode(w, changes)
		}
		for _, c := range changes {
			fmt.Fprintf(w, "%s: %s → %s\n", c.What, c.Old, c.New)
			for _, why := range c.Why {
				fmt.Fprintf(w, "    %s\n", why)
			}
		}
		return len(changes) == 0, nil
	}
	o, err := loadRun(oldPath)
	if err != nil {
		return false, err
	}
	n, err := loadRun(newPath)
	if err != nil {
		return false, err
	}
	d := reports.Compare(o, n)
	if output == "json" {
		return d.Empty(), encode(w, d)
	}
	for _, l := range d.Lines() {
		fmt.Fprintln(w, l)
	}
	return d.Empty(), nil
}

func loadRun(path string) (r types.Report, err error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "report.json")
	}
	r, err = reports.Load(path)
	if err != nil {
		return r, fmt.Errorf("%s: neither a release record nor a run's report: %w", path, err)
	}
	return r, nil
}

func encode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
