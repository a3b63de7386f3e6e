package attestcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/cctest/cctest/api/teename"
	"github.com/cctest/cctest/attest/hostcheck"
	"github.com/cctest/cctest/internal/exitcode"
)

// hostOptions are the flags of `cctest attest --host`.
type hostOptions struct {
	root, tee, nfdFeatures string
}

// runHost is `cctest attest --host`: the preflight of a bare-metal Kata
// host. It checks capability, never evidence: such a host is no TEE guest.
func runHost(ctx context.Context, w io.Writer, o hostOptions, output string) error {
	switch o.tee {
	case "", teename.TDX, teename.SNP:
	case "snp":
		o.tee = teename.SNP
	default:
		return usage("--tee %q: want tdx or snp", o.tee)
	}
	r := hostcheck.Run(ctx, hostcheck.Options{Root: o.root, TEE: o.tee})
	if o.nfdFeatures != "" {
		if err := writeFeatures(o.nfdFeatures, r.NFDFeatureFile()); err != nil {
			return exitcode.New(exitcode.Failed, "--nfd-features: "+err.Error())
		}
	}
	if output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(w, "Host capability for confidential Kata guests (root %s). These are not evidence: only the guests attest.\n", r.Root)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, c := range r.Checks {
			status := "FAIL"
			if c.Pass {
				status = "ok"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", status, orDash(c.TEE), c.Name, c.Detail)
		}
		tw.Flush()
	}
	if !r.Pass {
		var bad []string
		for _, c := range r.Checks {
			if !c.Pass {
				bad = append(bad, strings.TrimSpace(c.TEE+" "+c.Name))
			}
		}
		return exitcode.New(exitcode.Failed, "host check failed: "+strings.Join(bad, ", "))
	}
	if output != "json" {
		fmt.Fprintln(w, "PASS: this host can run confidential Kata guests")
	}
	return nil
}

// writeFeatures writes NFD's local feature file, or removes it when there
// is nothing to advertise (NFD then drops the label).
func writeFeatures(path string, b []byte) error {
	if len(b) == 0 {
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
