// Package faultscmd is `cctest faults`: the catalogue of platform faults,
// built from the simulators' own declarations, and which specs each breaks.
package faultscmd

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/framework"
	_ "github.com/cctest/cctest/simulators/embedded" // links every simulator, and so declares every fault
	_ "github.com/cctest/cctest/suites"              // declares every spec
)

// New returns the faults command.
func New() *cobra.Command {
	var uncovered, specs bool
	cmd := &cobra.Command{
		Use:   "faults [--specs | --uncovered]",
		Short: "List the faults the embedded platform can be started with",
		Long: `Each fault makes one simulator misbehave the way a broken real platform
would; the component is the simulator package that declares it. Every spec
declares the faults that must make it fail, and the mutation check holds it
to that. Start a platform with one to see a check fail:

  cctest env up --fault gate-admits-unattested
  cctest run --fault debug-td`,
		Example: `  cctest faults              # the catalogue
  cctest faults --specs      # each fault (and pair) with the specs that must fail under it, and what they must report
  cctest faults --uncovered  # specs no fault breaks yet (checks not yet shown to fail)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			switch {
			case uncovered:
				un := framework.Uncovered()
				if len(un) == 0 {
					fmt.Fprintf(w, "every one of the %d specs has a fault that must break it\n", len(framework.Specs()))
					break
				}
				fmt.Fprintf(w, "%d of %d specs have no fault that must break them:\n", len(un), len(framework.Specs()))
				fmt.Fprintln(w, "SPEC\tDECLARED IN")
				for _, s := range un {
					fmt.Fprintf(w, "%s\t%s\n", s.Name, s.Where())
				}
			case specs:
				fmt.Fprintln(w, "FAULT\tSPEC THAT MUST FAIL\tMUST REPORT")
				for _, key := range framework.FaultKeys() {
					for _, name := range framework.Detectors()[key] {
						expect := ""
						if s, ok := framework.Lookup(name); ok {
							expect = s.Expected(key)
						}
						fmt.Fprintf(w, "%s\t%s\t%s\n", key, name, expect)
					}
				}
			default:
				fmt.Fprintln(w, "FAULT\tCOMPONENT\tDESCRIPTION")
				for _, f := range faults.All() {
					fmt.Fprintf(w, "%s\t%s\t%s\n", f.Name, f.Component, f.Description)
				}
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&uncovered, "uncovered", false, "list the specs no fault breaks yet")
	cmd.Flags().BoolVar(&specs, "specs", false, "list each fault with the specs that must fail under it")
	cmd.MarkFlagsMutuallyExclusive("uncovered", "specs")
	return cmd
}

// Problems checks the declarations against each other: every fault breaks
// at least one spec, and every fault a spec names exists.
func Problems() []string {
	var out []string
	det := framework.Detectors()
	for _, f := range faults.All() {
		if len(det[f.Name]) == 0 {
			out = append(out, fmt.Sprintf("fault %s (%s) breaks no spec: name it in the BrokenBy of the specs it must fail", f.Name, f.Component))
		}
	}
	for _, s := range framework.Specs() {
		for _, key := range s.BrokenBy {
			if s.Expected(key) == "" {
				out = append(out, fmt.Sprintf("spec %q (%s) declares no failure message under %s: set FailsWith (or FailsWithUnder[%q]) to what it must report", s.Name, s.Where(), key, key))
			} else if _, err := regexp.Compile(s.Expected(key)); err != nil {
				out = append(out, fmt.Sprintf("spec %q (%s): the failure message under %s is not a regular expression: %v", s.Name, s.Where(), key, err))
			}
		}
		for _, key := range s.WaitsFor {
			if !slices.Contains(s.BrokenBy, key) {
				out = append(out, fmt.Sprintf("spec %q (%s) waits for fault %s, which is not in its BrokenBy", s.Name, s.Where(), key))
			}
		}
		for key := range s.FailsWithUnder {
			if !slices.Contains(s.BrokenBy, key) {
				out = append(out, fmt.Sprintf("spec %q (%s) declares a failure message under %s, which is not in its BrokenBy", s.Name, s.Where(), key))
			}
		}
		for _, key := range append(append([]string{}, s.BrokenBy...), s.MayAlsoFailUnder...) {
			for _, f := range strings.Split(key, framework.PairSep) {
				if _, ok := faults.Lookup(f); !ok {
					out = append(out, fmt.Sprintf("spec %q (%s) names fault %q, which no simulator declares", s.Name, s.Where(), f))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}
