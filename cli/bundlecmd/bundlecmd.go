// Package bundlecmd is `cctest bundle`: make a signing key, sign a run's
// report directory (an in-toto statement in a DSSE envelope) and verify a
// signed one.
package bundlecmd

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cctest/cctest/bundle"
	"github.com/cctest/cctest/internal/exitcode"
)

func usage(format string, a ...any) error {
	return exitcode.New(exitcode.Usage, fmt.Sprintf(format, a...))
}

// code gives err the exit status: 2 for unusable input, 1 otherwise.
func code(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := exitcode.Of(err); ok {
		return err
	}
	if bundle.IsUsage(err) {
		return exitcode.New(exitcode.Usage, err.Error())
	}
	return exitcode.New(exitcode.Failed, err.Error())
}

func flagErrors(cmd *cobra.Command) {
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usage("%v (see %s --help)", err, c.CommandPath())
	})
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
}

func oneDir(c *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usage("give one report directory (see %s --help)", c.CommandPath())
	}
	return nil
}

// New returns the bundle command and its subcommands.
func New() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bundle keygen|sign|verify",
		Short: "Sign a run's report directory and verify a signed one",
		Long: `bundle signs the report directory of a run (what cctest run writes to
--report-dir, or cctest report --bundle) so a release gate can trust it:

  keygen --out KEY        a PEM private key (ECDSA P-256, or --type ed25519),
                          mode 0600, and its public key KEY.pub
  sign --key KEY DIR      writes DIR/` + bundle.FileName + `: an in-toto Statement v1
                          in a DSSE envelope. Its subjects are every file of
                          the manifest and manifest.json, each with its
                          sha256; its predicate (` + bundle.PredicateType + `)
                          is the run's verdict and counts, environment,
                          policy digest, and node types with the
                          measurements their nodes reported.
  verify --key KEY.pub DIR  checks the signature, then every file in DIR
                          against the statement, naming each missing,
                          changed or extra file.

Exit status: 0 verified (or written), 1 verification failed (or a bundle
that does not match its manifest, which sign refuses), 2 bad flags, an
unusable key or no bundle.`,
		Example: `  cctest bundle keygen --out release.key
  cctest bundle sign --key release.key cctest-results
  cctest bundle verify --key release.key.pub cctest-results`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usage("unknown bundle command %q: want keygen, sign or verify", args[0])
			}
			return usage("give a bundle command: keygen, sign or verify (see cctest bundle --help)")
		},
		RunE: func(*cobra.Command, []string) error { return nil },
	}
	flagErrors(cmd)
	cmd.AddCommand(newKeygen(), newSign(), newVerify())
	return cmd
}

func newKeygen() *cobra.Command {
	var out, typ string
	cmd := &cobra.Command{
		Use:   "keygen --out KEY [--type ecdsa|ed25519]",
		Short: "Write a new signing key (KEY, mode 0600) and its public key (KEY.pub); never overwrites",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usage("unexpected argument %q: give the key path with --out", args[0])
			}
			return nil
		},
		RunE: func(c *cobra.Command, _ []string) error {
			if out == "" {
				return usage("--out is required: where to write the private key (the public key goes to KEY.pub)")
			}
			if err := bundle.WriteKeyPair(out, typ); err != nil {
				return code(err)
			}
			fmt.Fprintf(c.OutOrStdout(), "wrote %s (private, keep it secret) and %s.pub\n", out, out)
			return nil
		},
	}
	flagErrors(cmd)
	cmd.Flags().StringVar(&out, "out", "", "write the private key to KEY and the public key to KEY.pub (required)")
	cmd.Flags().StringVar(&typ, "type", bundle.KeyECDSA, "key type: ecdsa (P-256) or ed25519")
	return cmd
}

func newSign() *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   "sign --key KEY DIR",
		Short: "Sign a run's report directory: writes DIR/" + bundle.FileName,
		Args:  oneDir,
		RunE: func(c *cobra.Command, args []string) error {
			if key == "" {
				return usage("--key is required: the private key (cctest bundle keygen writes one)")
			}
			k, err := bundle.LoadPrivateKey(key)
			if err != nil {
				return code(err)
			}
			s, err := bundle.Sign(args[0], k)
			if err != nil {
				return code(err)
			}
			fmt.Fprintf(c.OutOrStdout(), "wrote %s: %d files, verdict %s, signed by %s\n",
				s.Path, s.Subjects, verdict(s.Predicate.Verdict), s.KeyID)
			return nil
		},
	}
	flagErrors(cmd)
	cmd.Flags().StringVar(&key, "key", "", "PEM private key, ECDSA or Ed25519 (required)")
	return cmd
}

func newVerify() *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   "verify --key KEY.pub DIR",
		Short: "Verify a signed report directory: signature, then every file against the statement",
		Args:  oneDir,
		RunE: func(c *cobra.Command, args []string) error {
			if key == "" {
				return usage("--key is required: the signer's PEM public key (KEY.pub)")
			}
			pub, err := bundle.LoadPublicKey(key)
			if err != nil {
				return code(err)
			}
			v, err := bundle.Verify(args[0], pub)
			if err != nil {
				return code(err)
			}
			return report(c.OutOrStdout(), args[0], v)
		},
	}
	flagErrors(cmd)
	cmd.Flags().StringVar(&key, "key", "", "the signer's PEM public key (required)")
	return cmd
}

func report(out io.Writer, dir string, v bundle.Verified) error {
	if len(v.Problems) > 0 {
		fmt.Fprintf(out, "FAIL %s does not verify:\n", dir)
		for _, p := range v.Problems {
			fmt.Fprintf(out, "  %s\n", p)
		}
		return exitcode.New(exitcode.Failed, fmt.Sprintf("%s: %d verification problem(s), first: %s", dir, len(v.Problems), v.Problems[0]))
	}
	fmt.Fprintf(out, "verified %s: %d files signed by %s; run verdict %s\n", dir, v.Subjects, v.KeyID, verdict(v.Predicate.Verdict))
	for _, nt := range v.Predicate.NodeTypes {
		name := nt.Name
		if name == "" {
			name = "(no node type recorded)"
		}
		res := "PASS"
		if !nt.Pass {
			res = "FAIL"
		}
		fmt.Fprintf(out, "  %s %s: %d nodes, measurements %s\n", res, name, len(nt.Nodes), strings.Join(nt.Measurements, " "))
	}
	return nil
}

func verdict(v bundle.Verdict) string {
	var parts []string
	for st, n := range v.Counts {
		parts = append(parts, fmt.Sprintf("%d %s", n, st))
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return v.Result
	}
	return fmt.Sprintf("%s (%s)", v.Result, strings.Join(parts, ", "))
}
