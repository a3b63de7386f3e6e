// Command cctest is the conformance harness for confidential-compute tenant
// clusters built on vCluster.
package main

import (
	"fmt"
	"os"
	"path/filepath"

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
	"github.com/cctest/cctest/internal/cpuprofile"
	"github.com/cctest/cctest/internal/exitcode"
	probecmd "github.com/cctest/cctest/probe/command"
	"github.com/cctest/cctest/simulators/controlplane"
)

func main() {
	// Libraries linked in (k8s component-base) register global pflags such as
	// --version; cobra would show them on every command. cctest has its own.
	pflag.CommandLine = pflag.NewFlagSet(os.Args[0], pflag.ExitOnError)
	root := newRoot()
	stopProfile := cpuprofile.Start(profileName(os.Args))
	err := root.Execute()
	stopProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(exitCode(err))
	}
}

// profileName names a process's CPU profile by its command, and a
// control-plane child by its plane (controlplane-tenant).
func profileName(args []string) string {
	if len(args) < 2 {
		return "cctest"
	}
	if args[1] == controlplane.ChildCommand {
		for i := 2; i+1 < len(args); i++ {
			if args[i] == "--name" {
				return "controlplane-" + args[i+1]
			}
		}
	}
	return "cctest-" + filepath.Base(args[1])
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
