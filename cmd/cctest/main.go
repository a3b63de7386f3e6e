// Command cctest is the conformance harness for confidential-compute tenant
// clusters built on vCluster.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
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
	return root
}

// exitCode lets a command choose its exit status by returning an error that
// carries one (e.g. 2 = no TEE device); anything else exits 1.
func exitCode(err error) int {
	var c interface{ ExitCode() int }
	if asExit(err, &c) {
		return c.ExitCode()
	}
	return 1
}
