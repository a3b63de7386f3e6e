// Package probeimagecmd is `cctest probe image build|push`: the probe image
// made without Docker, for clusters that pull from a registry of their own
// (air-gapped ones included).
package probeimagecmd

import (
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/cctest/cctest/internal/exitcode"
	"github.com/cctest/cctest/probe/image"
)

// DefaultBinary is where `make probe` leaves the static probe binary.
const DefaultBinary = "bin/cctest-probe"

// New returns the image command.
func New() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build the probe image as a tarball, or push it to a registry",
		Long: `The probe image holds only the static cctest-probe binary (make probe) as its
entrypoint, on an empty base. No Docker is needed: the image is assembled
with go-containerregistry.

Spec pods run it (probes, and "idle" for workload pods), so a real tenant
must be able to pull it: push it to a registry the nodes reach, then run
with --probe-image REGISTRY/REPO:TAG. cctest run --list-images prints what a
run pulls.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(buildCmd(), pushCmd())
	return cmd
}

func buildCmd() *cobra.Command {
	var binary, tag, output string
	cmd := &cobra.Command{
		Use:   "build --output FILE [--tag REPO:TAG] [--binary PATH]",
		Short: "Write the probe image as an image tarball (docker save layout)",
		Example: `  make probe && cctest probe image build --output probe.tar
  kind load image-archive probe.tar           # or: ctr -n k8s.io images import probe.tar`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output == "" {
				return exitcode.New(exitcode.Usage, "--output: where to write the image tarball (e.g. --output probe.tar)")
			}
			if err := image.Build(binary, tag, output); err != nil {
				return exitcode.New(exitcode.Usage, err.Error())
			}
			ref := tag
			if ref == "" {
				ref = image.DefaultRef
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Wrote %s (%s)\n", output, ref)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "the image tarball to write")
	cmd.Flags().StringVar(&tag, "tag", "", "the reference the image is tagged with (default "+image.DefaultRef+")")
	cmd.Flags().StringVar(&binary, "binary", DefaultBinary, "the static cctest-probe binary (make probe)")
	return cmd
}

func pushCmd() *cobra.Command {
	var binary string
	cmd := &cobra.Command{
		Use:   "push REGISTRY/REPO:TAG [--binary PATH]",
		Short: "Push the probe image to a registry (credentials as docker and crane find them)",
		Long: `push builds the probe image and writes it to REGISTRY/REPO:TAG, with the
credentials your Docker config holds for that registry ($DOCKER_CONFIG or
~/.docker/config.json, including credential helpers). It prints the digest:
pin it with --probe-image REGISTRY/REPO@sha256:... if you like.`,
		Example: `  make probe && cctest probe image push registry.example.com/cctest/probe:v1
  cctest run --env existing --probe-image registry.example.com/cctest/probe:v1 ...`,
		Args:          cobra.ExactArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Input problems are usage errors; what the registry says is not.
			if _, err := name.NewTag(args[0], name.StrictValidation); err != nil {
				return exitcode.New(exitcode.Usage, fmt.Sprintf("%q: %v (want REGISTRY/REPO:TAG)", args[0], err))
			}
			if _, err := os.Stat(binary); err != nil {
				return exitcode.New(exitcode.Usage, fmt.Sprintf("--binary: %v (build it with `make probe`)", err))
			}
			digest, err := image.Push(cmd.Context(), binary, args[0])
			if err != nil {
				return exitcode.New(exitcode.Failed, err.Error())
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Pushed %s (%s)\n", args[0], digest)
			return nil
		},
	}
	cmd.Flags().StringVar(&binary, "binary", DefaultBinary, "the static cctest-probe binary (make probe)")
	return cmd
}
