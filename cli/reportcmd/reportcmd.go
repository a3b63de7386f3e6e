// Package reportcmd is `cctest report`: re-render the JUnit XML, the HTML
// page or the whole evidence bundle from a run's Ginkgo JSON report.
package reportcmd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/onsi/ginkgo/v2/types"
	"github.com/spf13/cobra"

	"github.com/cctest/cctest/internal/exitcode"
	"github.com/cctest/cctest/reports"
)

func usage(format string, a ...any) error {
	return exitcode.New(exitcode.Usage, fmt.Sprintf(format, a...))
}

// Options are the flags of `cctest report`.
type Options struct {
	From, HTML, JUnit, Bundle string
	// Baseline is an earlier run's report.json: the page shows what changed.
	Baseline string
}

// New returns the report command.
func New() *cobra.Command {
	var o Options
	cmd := &cobra.Command{
		Use:   "report --from report.json [--html FILE] [--junit FILE] [--bundle DIR]",
		Short: "Render the HTML page, JUnit XML or evidence bundle from a run's report.json",
		Long: `report reads the Ginkgo JSON report of a run (report.json, the source of
truth that cctest run writes to --report-dir) and renders from it:

  --html FILE    one self-contained HTML page: verdict, counts, environment,
                 certification by node type, a spec table filterable by label
                 and status, failures with diagnostics and timelines, every
                 attestation verdict with its checks, and a timing chart.
                 It loads nothing from the network and opens from file://.
  --junit FILE   JUnit XML for Jenkins, GitLab and GitHub test reporters:
                 stable names, labels as <properties>, failures with message
                 and location, skipped specs as <skipped>.
  --bundle DIR   the evidence bundle: junit.xml, report.html,
                 evidence/<node-or-pod>.json (raw evidence and verdict),
                 report.json (copied when DIR has none) and manifest.json with
                 the sha256 of every file in DIR.

Give at least one of them. The exit status is 2 for bad flags or a file that
is not a Ginkgo JSON report, 1 when an output cannot be written; it does not
reflect the run's verdict (cctest run does).`,
		Example: `  # re-render the page of a run
  cctest report --from cctest-results/report.json --html /tmp/report.html

  # JUnit for a CI system, from a report someone sent you
  cctest report --from report.json --junit junit.xml

  # rebuild the whole evidence bundle (and its manifest) in place
  cctest report --from cctest-results/report.json --bundle cctest-results`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usage("unexpected argument %q: give the report with --from (see cctest report --help)", args[0])
			}
			return nil
		},
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return Run(cmd.OutOrStdout(), o)
		},
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usage("%v (see cctest report --help)", err)
	})
	f := cmd.Flags()
	f.StringVar(&o.From, "from", "", "the run's Ginkgo JSON report (required)")
	f.StringVar(&o.HTML, "html", "", "write the HTML page to FILE")
	f.StringVar(&o.JUnit, "junit", "", "write JUnit XML to FILE")
	f.StringVar(&o.Bundle, "bundle", "", "write the evidence bundle into DIR")
	f.StringVar(&o.Baseline, "baseline", "", "an earlier run's report.json: the page shows what changed since")
	return cmd
}

// Run renders what o asks for.
func Run(out io.Writer, o Options) error {
	if o.From == "" {
		return usage("--from is required: the report.json of a run (see cctest report --help)")
	}
	if o.HTML == "" && o.JUnit == "" && o.Bundle == "" {
		return usage("nothing to do: give --html FILE, --junit FILE or --bundle DIR")
	}
	src, err := os.ReadFile(o.From)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return usage("--from %s: no such file", o.From)
		}
		return usage("--from: %v", err)
	}
	r, err := reports.Decode(bytes.NewReader(src))
	if err != nil {
		return usage("--from %s: %v", o.From, err)
	}
	var opts []reports.Option
	if o.Baseline != "" {
		base, err := reports.Load(o.Baseline)
		if err != nil {
			return usage("--baseline: %v", err)
		}
		opts = append(opts, reports.WithBaseline(base))
	}
	if o.HTML != "" {
		if err := reports.WriteFileAtomic(o.HTML, func(w io.Writer) error { return reports.WriteHTML(w, r, opts...) }); err != nil {
			return exitcode.New(exitcode.Failed, fmt.Sprintf("--html: %v", err))
		}
		fmt.Fprintf(out, "wrote %s\n", o.HTML)
	}
	if o.JUnit != "" {
		if err := reports.WriteFileAtomic(o.JUnit, func(w io.Writer) error { return reports.WriteJUnit(w, r) }); err != nil {
			return exitcode.New(exitcode.Failed, fmt.Sprintf("--junit: %v", err))
		}
		fmt.Fprintf(out, "wrote %s\n", o.JUnit)
	}
	if o.Bundle != "" {
		if err := writeBundle(out, o.Bundle, o.From, src, r, opts...); err != nil {
			return exitcode.New(exitcode.Failed, fmt.Sprintf("--bundle: %v", err))
		}
		fmt.Fprintf(out, "wrote the evidence bundle in %s (%d evidence files, manifest %s)\n",
			o.Bundle, len(reports.EvidenceRecords(r)), filepath.Join(o.Bundle, reports.ManifestName))
	}
	s := reports.Summarize(r)
	verdict := "PASS"
	if !s.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(out, "%s: %d specs (%s)\n", verdict, s.Specs, counts(s))
	return nil
}

// writeBundle copies the source report.json byte for byte into a bundle
// directory that has none, so the manifest hashes the original.
func writeBundle(out io.Writer, dir, from string, src []byte, r types.Report, opts ...reports.Option) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	dst := filepath.Join(dir, reports.JSONName)
	if _, err := os.Stat(dst); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(dst, src, 0o644); err != nil {
			return err
		}
	} else if same, _ := sameFile(from, dst); !same {
		fmt.Fprintf(out, "note: %s already exists and is kept; the pages come from %s\n", dst, from)
	}
	return reports.WriteBundle(dir, r, opts...)
}

func sameFile(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(sa, sb), nil
}

func counts(s reports.Summary) string {
	out := ""
	for i, c := range s.Counts {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%d %s", c.N, c.State)
	}
	if out == "" {
		return "none ran"
	}
	return out
}
