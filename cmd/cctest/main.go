// Command cctest is the conformance harness for confidential-compute tenant
// clusters built on vCluster.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cctest/cctest/cli/attestcmd"
	"github.com/cctest/cctest/cli/bundlecmd"
	"github.com/cctest/cctest/cli/certifycmd"
	"github.com/cctest/cctest/cli/diffcmd"
	"github.com/cctest/cctest/cli/envcmd"
	"github.com/cctest/cctest/cli/faultscmd"
	"github.com/cctest/cctest/cli/measurecmd"
	"github.com/cctest/cctest/cli/probeimagecmd"
	"github.com/cctest/cctest/cli/reportcmd"
	"github.com/cctest/cctest/cli/runcmd"
	"github.com/cctest/cctest/cli/versioncmd"
	"github.com/cctest/cctest/internal/exitcode"
	probecmd "github.com/cctest/cctest/probe/command"
)

func main() {
	// Libraries linked in (k8s component-base) register global pflags such as
	// --version; cobra would show them on every command. cctest has its own.
	pflag.CommandLine = pflag.NewFlagSet(os.Args[0], pflag.ExitOnError)
	root := newRoot()
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(exitCode(err))
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "cctest",
		Short:         "Conformance harness for confidential-compute vCluster tenant clusters",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Each command lives in its own package under cli/; wire it here.
	probe := probecmd.New()
	probe.AddCommand(probeimagecmd.New())
	root.AddCommand(newControlPlaneChild(), runcmd.New(), envcmd.New(), attestcmd.New(), attestcmd.NewGate(),
		certifycmd.New(), faultscmd.New(), probe, reportcmd.New(), versioncmd.New())
	root.AddCommand(bundlecmd.New(), diffcmd.New())
	root.AddCommand(measurecmd.New(), measurecmd.NewPolicy())
	return root
}

// exitCode lets a command choose its exit status by returning an error that
// carries one (e.g. 2 = no TEE device); anything else exits 1.
func exitCode(err error) int {
	if code, ok := exitcode.Of(err); ok {
		return code
	}
	return 1
}
