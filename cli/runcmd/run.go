// Package runcmd is `cctest run`: the suites against the embedded platform
// (default) or a running environment, with progress, a summary and reports.
package runcmd

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cctest/cctest/api/teename"
	"github.com/cctest/cctest/environments/kind"

	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/simulators/tee"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/formatter"
	"github.com/onsi/ginkgo/v2/types"
	"github.com/spf13/cobra"

	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/environments"
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/fixtures"
	"github.com/cctest/cctest/framework"
	"github.com/cctest/cctest/internal/exitcode"
	"github.com/cctest/cctest/reports"
	"github.com/cctest/cctest/simulators/embedded"
	"github.com/cctest/cctest/suites"
	kinddefaults "sigs.k8s.io/kind/pkg/apis/config/defaults"
)

// Options are the flags of `cctest run`.
type Options struct {
	Kubeconfig, HostKubeconfig string
	SharedKubeconfig           string
	OtherKubeconfigs           []string
	// Contexts of those files ("" = the file's current context).
	Context, HostContext, SharedContext string
	LabelFilter                         string
	Focus, Skip                         []string
	AllowMissing                        bool
	FlakeAttempts                       int
	ListImages                          bool
	RequireAll                          bool
	Baseline                            string
	Waive                               []string
	RerunFailed                         string
	Faults                              []string
	ReportDir                           string
	Timeout                             time.Duration
	Keep, DryRun, Verbose               bool
	Policy                              string
	Env                                 string // embedded (default), existing, kind
	ProbeImage                          string
	KBSURL, KBSCA, KBSAdminKey          string
	TEE                                 string // hardware mode: tdx or snp
	Path                                string // runtime path: cvm, pod or "" (both)
}

// New returns the run command.
func New() *cobra.Command {
	var o Options
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the conformance suites (default: on the embedded simulated platform)",
		Long: `Runs the Ginkgo suites of the confidential-compute reference architecture
and writes report.json (Ginkgo JSON, the source of truth) and junit.xml to
--report-dir. The exit code is the verdict. Every planned spec must run: a
spec skipped without a stated reason fails the run.

Exit status: 0 passed, 1 specs failed, 2 bad flags or missing inputs (nothing
ran), 4 the environment did not start or answer, 130 interrupted.

Without --kubeconfig, cctest starts the embedded platform (real host and
tenant control planes with simulated TEE machines), runs every spec and stops
it. With --kubeconfig (--env existing), it runs against that tenant (add
--host-kubeconfig for the specs that read NodeClaims and the inventory).
As with kubectl, --env existing without --kubeconfig reads $KUBECONFIG
(its first file), then ~/.kube/config, and --context picks a context
(--host-context and --shared-tenant-context for the other files).
--env kind creates a kind host cluster with vCluster from its Helm chart.

The report dir gets report.html (open it in a browser), junit.xml, the
Ginkgo report.json, evidence/ and a manifest of sha256 sums.`,
		Example: `  cctest run                                   # everything, embedded platform
  cctest run --label-filter 'attestation && tee:tdx'
  cctest run --fault debug-td                  # must fail: see cctest faults
  cctest run --dry-run                         # list the specs that would run
  cctest env up --dir /tmp/cc &                # or reuse a running environment:
  cctest run --kubeconfig /tmp/cc/tenant.kubeconfig --host-kubeconfig /tmp/cc/host.kubeconfig
  cctest run --env existing --context vcluster_my-tenant --host-kubeconfig ~/.kube/config --host-context platform
  cctest run --env existing --kubeconfig tenant.kubeconfig --probe-image REGISTRY/cctest-probe:TAG \
    --tee tdx --policy my-tdx-hardware.yaml   # hardware qualification on real TDX nodes
  cctest run --env kind                        # kind host + vCluster chart (needs Docker, helm)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return Run(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Env, "env", "", "where to run: embedded (default; the simulated platform), existing (--kubeconfig of a running tenant) or kind (a kind host cluster with vCluster; needs Docker or Podman, helm, and make probe)")
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "tenant kubeconfig of a running environment (implies --env existing)")
	f.StringVar(&o.KBSURL, "kbs-url", "", "the tenant's Trustee KBS (https://host:port), which Kata guests attest to (the embedded platform provides its own)")
	f.StringVar(&o.KBSCA, "kbs-ca", "", "CA bundle (PEM) the KBS's certificate chains to")
	f.StringVar(&o.KBSAdminKey, "kbs-admin-key", "", "the KBS admin's Ed25519 private key (PEM), to put each spec's secret; without it those specs cannot run")
	f.StringVar(&o.ProbeImage, "probe-image", "", "image of the probe pods on a real tenant (default "+framework.DefaultProbeImage+"; build it from bin/cctest-probe, see README)")
	f.StringVar(&o.TEE, "tee", "", "hardware qualification with --env existing: tdx or snp. Needs a vendor-roots --policy; a skipped TEE spec or evidence chained to a test root fails the run")
	f.StringVar(&o.HostKubeconfig, "host-kubeconfig", "", "host kubeconfig of that environment (NodeClaims, inventory)")
	f.StringVar(&o.SharedKubeconfig, "shared-tenant-kubeconfig", "", "kubeconfig of a shared-nodes tenant with RuntimeClass sync (for the sync specs)")
	f.StringArrayVar(&o.OtherKubeconfigs, "other-tenant-kubeconfig", nil, "kubeconfig of another tenant of the same platform (repeatable): the tenancy spec checks no machine backs nodes or Kata guests of two tenants")
	f.StringVar(&o.Context, "context", "", "context of the tenant kubeconfig to use (default: its current context)")
	f.StringVar(&o.HostContext, "host-context", "", "context of the host kubeconfig to use")
	f.StringVar(&o.SharedContext, "shared-tenant-context", "", "context of the shared-tenant kubeconfig to use")
	f.StringVar(&o.LabelFilter, "label-filter", "", "Ginkgo label filter, e.g. 'auto-nodes || attestation' (labels: "+strings.Join(framework.KnownLabels(), ", ")+")")
	f.StringSliceVar(&o.Focus, "focus", nil, "run only specs whose name matches this regexp (repeatable)")
	f.StringSliceVar(&o.Skip, "skip", nil, "skip specs whose name matches this regexp (repeatable)")
	f.IntVar(&o.FlakeAttempts, "flake-attempts", 0, "retry a failing spec up to N attempts in all; one that passes on a retry is reported as flaky (summary, JUnit, HTML), never as a plain pass")
	f.StringVar(&o.RerunFailed, "rerun-failed", "", "run only the specs that failed in an earlier run: its report directory or report.json")
	f.StringVar(&o.Baseline, "baseline", "", "an earlier run (report directory or report.json): the page shows what changed since — specs, node type verdicts, measurements, TCBs")
	f.StringVar(&o.Path, "path", "", "the runtime path the tenant's TEE sits on: cvm (the node VM is the TEE) or pod (each Kata pod is a TEE guest on a bare-metal host); leaves the other path's specs out. Required with --tee; default: both")
	f.BoolVar(&o.RequireAll, "require-all", false, "fail the run when any spec was skipped (hardware runs, --tee, imply it); accept one with --waive")
	f.StringArrayVar(&o.Waive, "waive", nil, "accept a skip under --require-all: 'SPEC NAME=reason' (repeatable; the report shows each waiver)")
	f.BoolVar(&o.ListImages, "list-images", false, "print every image this run pulls, one per line, and exit (to mirror them for an air-gapped cluster)")
	f.BoolVar(&o.AllowMissing, "allow-missing", false, "run even when planned specs lack what they need (a policy, host access, ...): those specs are skipped, saying why, instead of the run stopping before any spec")
	f.StringSliceVar(&o.Faults, "fault", nil, "start the embedded platform with a named fault (repeatable; see cctest faults)")
	f.StringVar(&o.ReportDir, "report-dir", "cctest-results", "where report.html, junit.xml, report.json and evidence/ go")
	f.DurationVar(&o.Timeout, "timeout", 30*time.Minute, "give up on the whole run after this long")
	f.BoolVar(&o.Keep, "keep", false, "keep the environment's state directory (printed at the end; default: removed at exit) and, on failure, leave the embedded platform up and print how to reach it")
	f.BoolVar(&o.DryRun, "dry-run", false, "list the specs that would run (with their labels), without running them")
	f.BoolVarP(&o.Verbose, "verbose", "v", false, "also print Ginkgo's own output: each spec's steps, report entries and failures as they happen")
	f.StringVar(&o.Policy, "policy", "", "attestation policy the specs verify evidence against (default for the embedded platform: its own, fixtures/"+embedded.DefaultPolicy+")")
	// Shell completion (cctest completion bash|zsh|fish) offers the values.
	fixed := func(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
			var out []string
			for _, v := range values {
				if strings.HasPrefix(v, prefix) {
					out = append(out, v)
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		}
	}
	var faultNames []string
	for _, f := range faults.All() {
		faultNames = append(faultNames, f.Name+"\t"+f.Description)
	}
	_ = cmd.RegisterFlagCompletionFunc("fault", fixed(faultNames...))
	_ = cmd.RegisterFlagCompletionFunc("env", fixed(EnvEmbedded, EnvExisting, EnvKind))
	_ = cmd.RegisterFlagCompletionFunc("tee", fixed("tdx", "snp"))
	_ = cmd.RegisterFlagCompletionFunc("path", fixed(PathCVM, PathPod))
	_ = cmd.RegisterFlagCompletionFunc("label-filter", fixed(framework.KnownLabels()...))
	return cmd
}

// Run executes the suites once per process (a Ginkgo limit).
func Run(ctx context.Context, out io.Writer, o Options) error {
	fs, err := faults.Parse(o.Faults...)
	if err != nil {
		return usage(err)
	}
	defaultKubeconfig(&o)
	env, err := resolveEnv(o)
	if err != nil {
		return usage(err)
	}
	if o.ListImages {
		listImages(out, o, env)
		return nil
	}
	if len(fs) > 0 && env != EnvEmbedded {
		return usage(fmt.Errorf("--fault applies to the embedded platform only (this run is --env %s)", env))
	}
	if err := checkLabelFilter(o.LabelFilter); err != nil {
		return usage(err)
	}
	waivers, err := parseWaivers(o.Waive)
	if err != nil {
		return usage(err)
	}
	var bundleOpts []reports.Option
	if o.Baseline != "" {
		base, err := loadRun(o.Baseline)
		if err != nil {
			return usage(fmt.Errorf("--baseline: %w", err))
		}
		bundleOpts = append(bundleOpts, reports.WithBaseline(base))
	}
	if o.FlakeAttempts < 0 {
		return usage(fmt.Errorf("--flake-attempts %d: want 0 (no retries) or more", o.FlakeAttempts))
	}
	if o.RerunFailed != "" {
		focus, err := failedIn(o.RerunFailed)
		if err != nil {
			return usage(err)
		}
		if len(focus) == 0 {
			fmt.Fprintf(out, "Nothing failed in %s: nothing to rerun\n", o.RerunFailed)
			return nil
		}
		fmt.Fprintf(out, "Rerunning the %d spec(s) that failed in %s\n", len(focus), o.RerunFailed)
		o.Focus = append(o.Focus, focus...)
	}
	if err := os.MkdirAll(o.ReportDir, 0o755); err != nil {
		return fmt.Errorf("report dir: %w", err)
	}
	reportDir, _ := filepath.Abs(o.ReportDir)

	pol, err := loadPolicy(o)
	if err != nil {
		return usage(err)
	}
	// The one value the specs get. The test roots are trusted only where
	// the policy names the simulated roots; elsewhere they explain why
	// simulated evidence fails.
	run := &framework.Run{
		Policy:     pol,
		Verifier:   verifier.New(verifier.Options{TestRoots: tee.TestRoots()}),
		TEEs:       []string{teename.TDX, teename.SNP},
		ProbeImage: o.ProbeImage,
		Faults:     fs.Names(),
		Waivers:    waivers,
	}
	var hwTEEs []string
	if o.TEE != "" {
		if hwTEEs, err = hardwareTEEs(o.TEE, pol); err != nil {
			return usage(err)
		}
		run.TEEs = hwTEEs
		o.LabelFilter = teeLabelFilter(o.LabelFilter, hwTEEs)
	}
	o.LabelFilter = pathLabelFilter(o.LabelFilter, o.Path)
	if o.TEE != "" {
		fmt.Fprintf(out, "Hardware qualification (%s, %s path): vendor roots only, label filter %s\n", strings.Join(hwTEEs, ","), o.Path, o.LabelFilter)
	}

	var cl *environments.Cluster
	if o.DryRun {
		run.Env = environments.Cluster{EnvName: "dry-run"}
	} else {
		var prov environments.Provider
		if prov, cl, err = startEnv(ctx, out, o, env, fs, reportDir); err != nil {
			return environmentError(ctx, err)
		}
		defer prov.Destroy(context.WithoutCancel(ctx))
		run.Env = cl
		if cl.ProbeImage != "" {
			run.ProbeImage = cl.ProbeImage
		}
		run.KBS = cl.KBS
		if o.KBSURL != "" {
			if run.KBS, err = kbsFlags(&o); err != nil {
				return usage(err)
			}
		}
		if env == EnvKind && o.LabelFilter == "" {
			o.LabelFilter = kindLabelFilter
			fmt.Fprintf(out, "On kind only the %q specs apply (runc handlers, no auto nodes, no TEEs); give --label-filter to choose others\n", kindLabelFilter)
		}
	}

	if err := suites.Define(run); err != nil {
		return err
	}
	if !o.DryRun {
		plan := planned(o)
		if unmet := run.Unmet(specNames(plan)); len(unmet) > 0 && !o.AllowMissing {
			return usage(errors.New(framework.MissingMessage(unmet)))
		}
		if env == EnvExisting {
			if err := survey(ctx, out, run, plan, o.AllowMissing); err != nil {
				return err
			}
		}
	}
	suites.SkipUnmet(run)
	passed, r := runSpecs(out, o, reportDir)
	verdict := check(r, passed)
	if problems := skipProblems(r, o.RequireAll || o.TEE != "", waivers); len(problems) > 0 {
		msg := "--require-all: " + strings.Join(problems, "; ")
		if verdict != nil {
			msg = verdict.Error() + "; " + msg
		}
		verdict = exitcode.New(exitcode.Failed, msg)
	}
	if problems := hardwareProblems(r, hwTEEs, o.Path); o.TEE != "" && len(problems) > 0 {
		msg := "hardware qualification failed: " + strings.Join(problems, "; ")
		if verdict != nil {
			msg = verdict.Error() + "; " + msg
		}
		verdict = exitcode.New(exitcode.Failed, msg)
	}
	// After RunSpecs: Ginkgo writes report.json as it ends, and the
	// bundle's manifest must hash the final file.
	if err := reports.WriteBundle(reportDir, r, bundleOpts...); err != nil {
		fmt.Fprintf(out, "warning: the report bundle is incomplete: %v\n", err)
		if verdict == nil {
			verdict = exitcode.New(exitcode.Failed, "write the report bundle: "+err.Error())
		}
	}
	summary(out, r, verdict, reportDir)

	if cl != nil && o.Keep && cl.Dir != "" {
		fmt.Fprintf(out, "Environment state kept in %s (--keep)\n", cl.Dir)
	}
	if env == EnvEmbedded && cl != nil && verdict != nil && o.Keep {
		keepUp(out, cl)
	}
	return verdict
}

// loadPolicy reads --policy; the embedded platform defaults to its own.
func loadPolicy(o Options) (*policy.Policy, error) {
	switch {
	case o.Policy != "":
		p, err := policy.LoadFile(o.Policy)
		if err != nil {
			return nil, fmt.Errorf("--policy: %w", err)
		}
		return p, nil
	case o.Kubeconfig == "":
		b, err := fixtures.Read(embedded.DefaultPolicy)
		if err != nil {
			return nil, err
		}
		return policy.Load(b)
	}
	return nil, nil
}

func faultNote(fs faults.Set) string {
	if len(fs) == 0 {
		return ""
	}
	return " with faults " + strings.Join(fs.Names(), ", ")
}

type failFlag struct{ failed bool }

func (f *failFlag) Fail() { f.failed = true }

// planned is Ginkgo's own selection of specs under this run's filters,
// previewed without running anything. PreviewSpecs reads the filters from
// Ginkgo's global configuration, which its flags (on flag.CommandLine) set.
func planned(o Options) []types.SpecReport {
	set := func(name, v string) { _ = flag.CommandLine.Set("ginkgo."+name, v) }
	set("label-filter", o.LabelFilter)
	for _, f := range o.Focus {
		set("focus", f)
	}
	for _, s := range o.Skip {
		set("skip", s)
	}
	var plan []types.SpecReport
	for _, s := range ginkgo.PreviewSpecs("cctest").SpecReports {
		if s.LeafNodeType == types.NodeTypeIt && s.State != types.SpecStateSkipped {
			plan = append(plan, s)
		}
	}
	return plan
}

func specNames(plan []types.SpecReport) []string {
	names := make([]string, len(plan))
	for i, s := range plan {
		names[i] = s.LeafNodeText
	}
	return names
}

// survey reports what an existing environment offers before any spec runs,
// names the planned specs of a TEE the tenant cannot provide, and stops a
// run on a tenant with nothing to schedule pods on (every such spec would
// only wait out its timeout).
func survey(ctx context.Context, out io.Writer, run *framework.Run, plan []types.SpecReport, allowMissing bool) error {
	c, err := framework.NewClients(run.Env)
	if err != nil {
		return exitcode.New(exitcode.Environment, err.Error())
	}
	offer, err := framework.Survey(ctx, c)
	if err != nil {
		return exitcode.New(exitcode.Environment, "survey the environment: "+err.Error())
	}
	fmt.Fprintln(out, "The environment offers:")
	for _, l := range offer.Lines() {
		fmt.Fprintln(out, "  "+l)
	}
	for _, tee := range run.TEEs {
		if offer.Nodes[tee] > 0 || offer.NodeTypes == nil || offer.NodeTypes[tee] > 0 {
			continue
		}
		var cannot []string
		for _, s := range plan {
			if slices.Contains(s.Labels(), teeLabel(tee)) {
				cannot = append(cannot, s.FullText())
			}
		}
		if len(cannot) > 0 {
			fmt.Fprintf(out, "Cannot pass here (no %s node and no %s node type): %s\n", tee, tee, strings.Join(cannot, "; "))
		}
	}
	if offer.Empty() && !allowMissing {
		return exitcode.New(exitcode.Environment, "the tenant has no nodes and no node types to provision one from: every spec that runs a pod "+
			"would wait out its timeout and fail; nothing was run (give --host-kubeconfig if auto nodes provision them, or --allow-missing to run anyway)")
	}
	return nil
}

// runSpecs runs Ginkgo with progress lines and returns its report.
func runSpecs(out io.Writer, o Options, reportDir string) (bool, types.Report) {
	suiteCfg, reporterCfg := ginkgo.GinkgoConfiguration()
	suiteCfg.LabelFilter = o.LabelFilter
	suiteCfg.FocusStrings = o.Focus
	suiteCfg.SkipStrings = o.Skip
	suiteCfg.Timeout = o.Timeout
	suiteCfg.DryRun = o.DryRun
	suiteCfg.FlakeAttempts = o.FlakeAttempts
	suiteCfg.RandomSeed = 1 // a stable order keeps reports comparable
	reporterCfg.NoColor = true
	reporterCfg.JSONReport = filepath.Join(reportDir, "report.json")
	// One line per spec is cctest's own (below); Ginkgo's reporter speaks
	// only with -v, so the two never interleave.
	if o.Verbose {
		reporterCfg.Verbose = true
		formatter.ColorableStdOut = out
	} else {
		reporterCfg.Succinct = true
		formatter.ColorableStdOut = io.Discard
	}

	var report types.Report
	total, n := 0, 0
	ginkgo.ReportBeforeSuite(func(r ginkgo.Report) { total = r.PreRunStats.SpecsThatWillRun })
	ginkgo.ReportAfterEach(func(s ginkgo.SpecReport) {
		if s.LeafNodeType != types.NodeTypeIt || s.State == types.SpecStateSkipped && s.Failure.Message == "" {
			return
		}
		n++
		state := strings.ToUpper(reports.Status(s))
		if o.DryRun {
			state = "PLANNED"
		}
		line := fmt.Sprintf("[%d/%d] %-7s %5.1fs  %s", n, total, state, s.RunTime.Seconds(), s.FullText())
		if reports.Status(s) == reports.StatusFlaky {
			line += "  (" + reports.Attempts(s) + ")"
		}
		if o.DryRun && len(s.Labels()) > 0 {
			line += "  [" + strings.Join(s.Labels(), ", ") + "]"
		}
		if spec, ok := framework.Lookup(s.LeafNodeText); o.DryRun && ok && len(spec.Needs) > 0 {
			var needs []string
			for _, n := range spec.Needs {
				needs = append(needs, string(n))
			}
			line += "  needs " + strings.Join(needs, "; ")
		}
		fmt.Fprintln(out, line)
		if s.State.Is(types.SpecStateFailureStates | types.SpecStateSkipped) {
			fmt.Fprintf(out, "        %s\n", firstLine(s.Failure.Message))
		}
	})
	ginkgo.ReportAfterSuite("cctest", func(r ginkgo.Report) { report = r })
	var t failFlag
	ok := ginkgo.RunSpecs(&t, "cctest", suiteCfg, reporterCfg)
	return ok && !t.failed, report
}

// check turns the report into the run's verdict: any failure, or a planned
// spec that did not run (or was skipped without a reason), fails the run.
func check(r types.Report, passed bool) error {
	var problems []string
	interrupted := false
	for _, reason := range r.SpecialSuiteFailureReasons {
		if strings.Contains(reason, "Interrupted") {
			interrupted = true
			problems = append(problems, "interrupted (SIGINT/SIGTERM); the reports hold the specs that ran")
		}
	}
	if !passed && !interrupted {
		problems = append(problems, "specs failed")
	}
	ran := 0
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		switch {
		case s.State == types.SpecStateSkipped && s.Failure.Message != "":
			ran++ // skipped at run time, with a stated reason
		case s.State == types.SpecStateSkipped, s.State == types.SpecStatePending:
		default:
			ran++
		}
	}
	if !r.SuiteConfig.DryRun && ran != r.PreRunStats.SpecsThatWillRun {
		problems = append(problems, fmt.Sprintf("planned %d specs but %d ran", r.PreRunStats.SpecsThatWillRun, ran))
	}
	if len(problems) == 0 {
		return nil
	}
	code := exitcode.Failed
	if interrupted {
		code = exitcode.Interrupted
	}
	return exitcode.New(code, "run failed: "+strings.Join(problems, "; "))
}

func summary(out io.Writer, r types.Report, verdict error, dir string) {
	counts := map[string]int{}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "\nRESULT\tTIME\tSPEC")
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		state := reports.Status(s)
		if r.SuiteConfig.DryRun {
			state = "planned"
		}
		if s.State == types.SpecStateSkipped && s.Failure.Message == "" {
			// Left out by the filters: not a result, so not in the table.
			counts["not selected"]++
			continue
		}
		counts[state]++
		fmt.Fprintf(w, "%s\t%.1fs\t%s\n", state, s.RunTime.Seconds(), s.FullText())
	}
	w.Flush()
	// Each failure in full, once, after the table.
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt || !s.State.Is(types.SpecStateFailureStates) {
			continue
		}
		fmt.Fprintf(out, "\n--- %s: %s\n", strings.ToUpper(s.State.String()), s.FullText())
		fmt.Fprintf(out, "    at %s:%d\n", s.Failure.Location.FileName, s.Failure.Location.LineNumber)
		for _, l := range strings.Split(strings.TrimRight(s.Failure.Message, "\n"), "\n") {
			fmt.Fprintf(out, "    %s\n", l)
		}
	}
	var parts []string
	for _, k := range []string{"passed", reports.StatusFlaky, "failed", "skipped", "pending", "panicked", "interrupted", "aborted", "timedout", "planned", "not selected"} {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
		}
	}
	v := "PASS"
	if verdict != nil {
		v = "FAIL"
	}
	fmt.Fprintf(out, "\n%s: %s in %.1fs. Reports: %s (open in a browser), %s, %s\n", v, strings.Join(parts, ", "), r.RunTime.Seconds(),
		filepath.Join(dir, "report.html"), filepath.Join(dir, "junit.xml"), filepath.Join(dir, "report.json"))
}

// listImages prints what a run pulls: spec pods run only the probe image
// (probes, and "idle" workloads). The embedded platform pulls nothing; kind
// pulls its node image and the vCluster chart's images (notes on stderr
// name those, which the chart decides).
func listImages(out io.Writer, o Options, env string) {
	probeImage := o.ProbeImage
	if probeImage == "" {
		probeImage = framework.DefaultProbeImage
	}
	switch env {
	case EnvEmbedded:
		fmt.Fprintln(os.Stderr, "# the embedded platform pulls no image (its nodes are simulated)")
	case EnvKind:
		fmt.Fprintln(out, kinddefaults.Image)
		fmt.Fprintf(os.Stderr, "# the probe image is built locally and loaded into the kind nodes (not pulled)\n"+
			"# plus the images of vCluster chart %s: helm template tenant vcluster --repo %s --version %s | grep image:\n",
			kind.ChartVersion, kind.ChartRepo, kind.ChartVersion)
	default:
		fmt.Fprintln(out, probeImage)
	}
}

// parseWaivers reads --waive 'SPEC NAME=reason' values; the spec must exist
// and the reason must be given, so a waiver says who accepted what and why.
func parseWaivers(in []string) (map[string]string, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, w := range in {
		name, why, ok := strings.Cut(w, "=")
		name, why = strings.TrimSpace(name), strings.TrimSpace(why)
		if !ok || why == "" {
			return nil, fmt.Errorf("--waive %q: want 'SPEC NAME=reason'", w)
		}
		if _, known := framework.Lookup(name); !known {
			return nil, fmt.Errorf("--waive %q: no spec is named %q (cctest run --dry-run lists them)", w, name)
		}
		out[name] = why
	}
	return out, nil
}

// skipProblems are the skips --require-all refuses: every spec skipped with
// a reason that no waiver accepts.
func skipProblems(r types.Report, requireAll bool, waivers map[string]string) []string {
	if !requireAll {
		return nil
	}
	var out []string
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt || s.State != types.SpecStateSkipped || s.Failure.Message == "" {
			continue // not a skip at run time (left out by the filters)
		}
		if _, ok := waivers[s.LeafNodeText]; ok {
			continue
		}
		out = append(out, fmt.Sprintf("%s skipped (%s)", s.FullText(), firstLine(s.Failure.Message)))
	}
	return out
}

// loadRun reads an earlier run's report: its directory or report.json.
func loadRun(path string) (types.Report, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "report.json")
	}
	return reports.Load(path)
}

// failedIn reads an earlier run's report (its directory or report.json) and
// returns a focus that selects exactly the specs that failed there.
func failedIn(path string) ([]string, error) {
	r, err := loadRun(path)
	if err != nil {
		return nil, fmt.Errorf("--rerun-failed: %w", err)
	}
	var focus []string
	for _, s := range r.SpecReports {
		if s.LeafNodeType == types.NodeTypeIt && s.State.Is(types.SpecStateFailureStates) {
			// Ginkgo matches focus against the suite description and the
			// spec's full text: anchor the whole of it.
			focus = append(focus, "^"+regexp.QuoteMeta(r.SuiteDescription+" "+s.FullText())+"$")
		}
	}
	return focus, nil
}

// environmentError gives an environment that did not start or answer its
// exit status, unless the error already carries one or the user stopped it.
func environmentError(ctx context.Context, err error) error {
	if _, ok := exitcode.Of(err); ok {
		return err
	}
	if ctx.Err() != nil {
		return exitcode.New(exitcode.Interrupted, "interrupted while the environment started: "+err.Error())
	}
	return exitcode.New(exitcode.Environment, err.Error())
}

// usage marks a problem with the flags or their inputs: nothing ran (exit 2).
func usage(err error) error { return exitcode.New(exitcode.Usage, err.Error()) }

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// checkLabelFilter parses --label-filter before anything starts, and says
// what is wrong in one plain line (Ginkgo's message is coloured, multi-line).
func checkLabelFilter(f string) error {
	if _, err := types.ParseLabelFilter(f); err != nil {
		msg := strings.Join(strings.Fields(ansi.ReplaceAllString(err.Error(), "")), " ")
		msg = strings.TrimSuffix(msg, " Learn more at: http://onsi.github.io/ginkgo/#spec-labels")
		return fmt.Errorf("--label-filter %q: %s", f, msg)
	}
	return nil
}

// firstLine is a failure's headline: its first line, or for a wait Gomega
// gave up on, the description and the reason around the "Timed out after
// 45s." / "Told to stop trying after 0.1s." preamble (which says when, not
// what): "<description>: <why>".
func firstLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	preamble := func(l string) bool {
		return strings.HasPrefix(l, "Timed out after ") || strings.HasPrefix(l, "Told to stop trying after ") || strings.HasPrefix(l, "Failed after ")
	}
	if !slices.ContainsFunc(lines, preamble) {
		return lines[0]
	}
	// Gomega's own wording around the error says nothing about it.
	boilerplate := func(l string) bool {
		for _, p := range []string{"Expected", "<*", "At one point", "Yet, Eventually", "The function passed to", "{", "}", "s: "} {
			if strings.HasPrefix(l, p) {
				return true
			}
		}
		return false
	}
	var head []string
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" && !preamble(l) && !boilerplate(l) {
			head = append(head, l)
		}
		if len(head) == 2 {
			break
		}
	}
	return strings.Join(head, ": ")
}

// kbsFlags reads --kbs-url, --kbs-ca and --kbs-admin-key.
func kbsFlags(o *Options) (*environments.KBS, error) {
	k := &environments.KBS{URL: o.KBSURL}
	if o.KBSCA != "" {
		b, err := os.ReadFile(o.KBSCA)
		if err != nil {
			return nil, fmt.Errorf("--kbs-ca: %w", err)
		}
		k.CAPEM = b
	}
	if o.KBSAdminKey != "" {
		b, err := os.ReadFile(o.KBSAdminKey)
		if err != nil {
			return nil, fmt.Errorf("--kbs-admin-key: %w", err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("--kbs-admin-key %s: no PEM block in it", o.KBSAdminKey)
		}
		key, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("--kbs-admin-key %s: %w", o.KBSAdminKey, err)
		}
		ed, ok := key.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("--kbs-admin-key %s: a %T, want an Ed25519 key (openssl genpkey -algorithm ed25519)", o.KBSAdminKey, key)
		}
		k.AdminKey = ed
	}
	return k, nil
}
