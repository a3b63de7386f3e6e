// Package faultscmd is `cctest faults`: the catalogue of platform faults.
package faultscmd

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cctest/cctest/faults"
)

// New returns the faults command.
func New() *cobra.Command {
	return &cobra.Command{
		Use:   "faults",
		Short: "List the faults the embedded platform can be started with",
		Long: `Each fault makes one simulator misbehave the way a broken real platform
would. Start a platform with one to see a check fail:

  cctest env up --fault gate-admits-unattested`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "FAULT\tCOMPONENT\tDESCRIPTION")
			for _, f := range faults.All() {
				fmt.Fprintf(w, "%s\t%s\t%s\n", f.Name, f.Component, f.Description)
			}
			return w.Flush()
		},
	}
}
