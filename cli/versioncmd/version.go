// Package versioncmd is `cctest version`.
package versioncmd

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/cctest/cctest/internal/buildinfo"
)

// New returns the version command.
func New() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the cctest version and the embedded Kubernetes version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "cctest %s (embedded Kubernetes %s, %s %s/%s)\n",
				buildinfo.Version, buildinfo.KubernetesVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}
