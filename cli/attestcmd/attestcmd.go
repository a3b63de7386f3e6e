// Package attestcmd is `cctest attest` (hardware qualification: fetch fresh
// evidence from this machine's TEE and verify it against a policy), `cctest
// attest verify` (verify saved evidence) and `cctest gate` (verify local
// evidence, then run the node-join command only on success).
package attestcmd

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/cctest/cctest/api/teename"

	"github.com/cctest/cctest/simulators/tee/simdevice"

	"github.com/spf13/cobra"

	"github.com/cctest/cctest/attest/device"
	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/fixtures"
	"github.com/cctest/cctest/internal/exitcode"
	"github.com/cctest/cctest/simulators/tee"
	sevtrust "github.com/google/go-sev-guest/verify/trust"
	tdxtrust "github.com/google/go-tdx-guest/verify/trust"
)

func usage(format string, args ...any) error {
	return exitcode.New(exitcode.Usage, fmt.Sprintf(format, args...))
}

// detect is the device detection used by the commands (tests replace it).
var detect = device.Detect

// source selects where evidence comes from: the local TEE or a simulator.
type source struct {
	simulate      string
	faults        []string
	machine       string
	productLine   string
	reportVersion uint32
	quoteVersion  uint16
	signingKey    string
}

func (s *source) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&s.simulate, "simulate", "", "use a simulated TEE instead of this machine's device: tdx or snp")
	f.StringArrayVar(&s.faults, "simulate-fault", nil, "with --simulate, switch on a fault (repeatable): "+faultNames())
	f.StringVar(&s.machine, "machine-name", "sim-node", "with --simulate, the simulated machine's name (seeds its identity)")
	f.StringVar(&s.productLine, "product-line", "Milan", "with --simulate snp, the CPU product line: Milan or Genoa")
	f.Uint32Var(&s.reportVersion, "report-version", 3, "with --simulate snp, the attestation report version: 2, 3 or 5")
	f.Uint16Var(&s.quoteVersion, "quote-version", 4, "with --simulate tdx, the quote version: 4, or 5 (TDX 1.5 body)")
	f.StringVar(&s.signingKey, "signing-key", "vcek", "with --simulate snp, the report's signing key: vcek, or vlek (as AWS)")
}

func faultNames() string {
	var names []string
	for _, f := range tee.Faults("") {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}

func (s *source) simulated() bool { return s.simulate != "" }

// device returns the evidence source, or an error carrying the exit code.
func (s *source) device() (device.Device, error) {
	if !s.simulated() {
		if len(s.faults) > 0 {
			return nil, usage("--simulate-fault needs --simulate")
		}
		d, err := detect()
		if err != nil {
			var nd *device.NoDeviceError
			if errors.As(err, &nd) {
				return nil, exitcode.New(exitcode.NoDevice, err.Error())
			}
			return nil, exitcode.New(exitcode.NoDevice, "TEE device: "+err.Error())
		}
		return d, nil
	}
	teeName := map[string]string{"tdx": teename.TDX, "snp": teename.SNP, "sev-snp": teename.SNP}[s.simulate]
	if teeName == "" {
		return nil, usage("--simulate %q: want tdx or snp", s.simulate)
	}
	var faults []tee.Fault
	for _, name := range s.faults {
		f, err := tee.ParseFault(teeName, name)
		if err != nil {
			return nil, usage("--simulate-fault: %v", err)
		}
		faults = append(faults, f)
	}
	if teeName == teename.TDX {
		m := tee.NewTDXMachine(tee.TDXOptions{Name: s.machine, QuoteVersion: s.quoteVersion, Faults: faults})
		if _, err := m.PCKCertificate(); err != nil {
			return nil, usage("--quote-version: %v", err)
		}
		return simdevice.New(m), nil
	}
	if s.signingKey != "vcek" && s.signingKey != "vlek" {
		return nil, usage("--signing-key %q: want vcek or vlek", s.signingKey)
	}
	m, err := tee.NewSNPMachine(tee.SNPOptions{Name: s.machine, ProductLine: s.productLine, ReportVersion: s.reportVersion,
		VLEK: s.signingKey == "vlek", Faults: faults})
	if err != nil {
		return nil, usage("%v", err)
	}
	return simdevice.New(m), nil
}

// loadPolicy reads --policy; with --simulate and no --policy it uses the
// embedded example policy for the simulated TEE.
func loadPolicy(path, tee string, simulated bool) (*policy.Policy, error) {
	if path == "" {
		if !simulated {
			return nil, usage("--policy is required (see fixtures/policies/tdx-hardware.yaml and snp-hardware.yaml for examples)")
		}
		name := map[string]string{teename.TDX: "policies/tdx-simulated.yaml", teename.SNP: "policies/snp-simulated.yaml"}[tee]
		data, err := fixtures.Read(name)
		if err != nil {
			return nil, usage("embedded %s: %v", name, err)
		}
		p, err := policy.Load(data)
		if err != nil {
			return nil, usage("embedded %s: %v", name, err)
		}
		return p, nil
	}
	p, err := policy.LoadFile(path)
	if err != nil {
		return nil, usage("%v", err)
	}
	return p, nil
}

// collateral configures where the verifier gets PCS/KDS collateral.
type collateral struct {
	dir     string
	offline bool
}

func (c *collateral) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.dir, "collateral-dir", "", "record Intel PCS / AMD KDS collateral here when online, replay it from here offline")
	cmd.Flags().BoolVar(&c.offline, "offline", false, "never fetch collateral from the network (with --collateral-dir: replay only)")
}

// options builds verifier options: vendor collateral from Intel / AMD (or
// recorded), and cctest's test roots with their in-process collateral
// service, which the verifier trusts only when a policy names the
// simulated roots.
func (c *collateral) options() verifier.Options {
	var tdx tdxtrust.HTTPSGetter
	var snp sevtrust.HTTPSGetter
	if !c.offline {
		tdx, snp = tdxtrust.DefaultHTTPSGetter(), sevtrust.DefaultHTTPSGetter()
	}
	o := verifier.Options{TDXGetter: tdx, SNPGetter: snp, TestRoots: tee.TestRoots()}
	switch {
	case c.dir != "":
		d := &verifier.CollateralDir{Dir: c.dir, TDX: tdx, SNP: snp}
		o.TDXGetter, o.SNPGetter = d.TDXGetter(), d.SNPGetter()
		sim := &verifier.CollateralDir{Dir: c.dir, TDX: o.TestRoots.TDXGetter, SNP: o.TestRoots.SNPGetter}
		o.TestRoots.TDXGetter, o.TestRoots.SNPGetter = sim.TDXGetter(), sim.SNPGetter()
	case c.offline:
		o.TDXGetter, o.SNPGetter = offlineTDX{}, offlineSNP{}
	}
	return o
}

type offlineTDX struct{}

func (offlineTDX) Get(url string) (map[string][]string, []byte, error) {
	return nil, nil, fmt.Errorf("--offline: not fetching %s (use --collateral-dir with recorded collateral)", url)
}

type offlineSNP struct{}

func (offlineSNP) Get(url string) ([]byte, error) {
	return nil, fmt.Errorf("--offline: not fetching %s (use --collateral-dir with recorded collateral)", url)
}

func checkOutput(o string) error {
	if o != "table" && o != "json" {
		return usage("-o %q: want table or json", o)
	}
	return nil
}

func printVerdict(w io.Writer, vd verifier.Verdict, output string) error {
	if output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(vd)
	}
	return vd.WriteTable(w)
}

func failed(vd verifier.Verdict) error {
	if vd.Pass {
		return nil
	}
	return exitcode.New(exitcode.Failed, "attestation failed: "+vd.Reason)
}

// attestLocal is what attest and gate share: find the device (real or
// simulated), load the policy for its TEE, fetch evidence bound to a fresh
// nonce and verify it. context names the caller in REPORT_DATA.
func attestLocal(src source, coll collateral, policyPath string, nonce []byte, context string, warn io.Writer) (verifier.Evidence, verifier.Verdict, error) {
	d, err := src.device()
	if err != nil {
		return verifier.Evidence{}, verifier.Verdict{}, err
	}
	p, err := loadPolicy(policyPath, d.TEE(), src.simulated())
	if err != nil {
		return verifier.Evidence{}, verifier.Verdict{}, err
	}
	rd := verifier.BindReportData(nonce, context)
	ev, err := d.Evidence(rd)
	if err != nil {
		return ev, verifier.Verdict{}, exitcode.New(exitcode.Failed, fmt.Sprintf("fetching evidence from %s: %v", d.Describe(), err))
	}
	vd := verifier.New(coll.options()).Verify(ev, p, rd[:])
	warnPolicy(warn, p, vd)
	return ev, vd, nil
}

// warnPolicy says what the policy leaves open and what the evidence's
// platform cannot show, so a pass is read for what it is worth. A hardware
// run (cctest run --tee) refuses a weak policy outright.
func warnPolicy(w io.Writer, p *policy.Policy, vd verifier.Verdict) {
	for _, s := range policy.Weaknesses(p) {
		fmt.Fprintf(w, "warning: policy %q is weak: %s\n", p.Name, s)
	}
	for _, s := range policy.Limits(p) {
		fmt.Fprintf(w, "note: policy %q: %s\n", p.Name, s)
	}
	if vd.SigningKey == "VLEK" {
		fmt.Fprintf(w, "note: %s\n", policy.LimitAWSSNP)
	}
}

// freshNonce returns 32 random bytes.
func freshNonce() ([]byte, error) {
	n := make([]byte, 32)
	_, err := rand.Read(n)
	return n, err
}

// New returns the attest command.
func New() *cobra.Command {
	var src source
	var coll collateral
	var policyPath, output, saveEvidence string
	var host bool
	var ho hostOptions
	cmd := &cobra.Command{
		Use:   "attest [--policy FILE] [--simulate tdx|snp [--simulate-fault NAME]...] | attest --host [--root DIR]",
		Short: "Fetch fresh TEE evidence on this machine and verify it against a policy",
		Long: `attest qualifies a TDX or SEV-SNP machine: it finds the TEE device
(configfs-tsm at ` + device.ConfigFSTSMPath + `, then ` + device.TDXGuestPath + `, then ` + device.SEVGuestPath + `),
asks it for evidence bound to a fresh random nonce, verifies the signatures and
certificate chains with go-tdx-guest / go-sev-guest, validates the fields
against the policy, and prints every check with the expected and measured value.
A device file being present is never taken as evidence.

--simulate uses cctest's TEE simulators instead (real quote formats, signed by
a test PKI that only policies naming trustRoots: [simulated] accept); with
--simulate and no --policy the embedded example policy for that TEE is used.

--host is the preflight of a bare-metal Kata host instead. Such a host is not
a TEE guest and has no evidence of its own; it is checked for what it must
offer its Kata guests: TDX host support (/sys/module/kvm_intel/parameters/tdx
is Y) with the quote path (the QGS socket /var/run/tdx-qgs/qgs.socket answers,
the PCCS in /etc/sgx_default_qcnl.conf accepts connections), or SEV-SNP host
support (/sys/module/kvm_amd/parameters/sev_snp is Y), and the Kata handler
(kata-qemu-tdx / kata-qemu-snp) in containerd's configuration. --root reads a
copy of those files instead of /; --nfd-features writes node-feature-
discovery's local feature file (cctest-tdx-quote-path=true when the quote
path answered) so the node carries the label the specs check.

Exit status: 0 verified, 1 evidence (or a host check) failed, 2 bad usage, 3 no TEE device.`,
		Example: `  # on a TDX or SEV-SNP guest
  cctest attest --policy tdx-hardware.yaml
  cctest attest --policy snp-hardware.yaml -o json --save-evidence evidence.json

  # simulators, for demos and CI
  cctest attest --simulate tdx --policy fixtures/policies/tdx-simulated.yaml
  cctest attest --simulate snp --product-line Genoa --report-version 5
  cctest attest --simulate tdx --simulate-fault debug        # fails: debug TD

  # on a bare-metal Kata host: can it run confidential guests?
  cctest attest --host
  cctest attest --host --tee tdx --nfd-features /etc/kubernetes/node-feature-discovery/features.d/cctest

  # record collateral while online, verify offline later
  cctest attest --policy tdx-hardware.yaml --collateral-dir ./collateral`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if host {
				if policyPath != "" || src.simulated() {
					return usage("--host checks a bare-metal host's capability: it takes no --policy or --simulate (a host has no evidence)")
				}
				return runHost(cmd.Context(), cmd.OutOrStdout(), ho, output)
			}
			if ho.root != "" || ho.tee != "" || ho.nfdFeatures != "" {
				return usage("--root, --tee and --nfd-features go with --host")
			}
			nonce, err := freshNonce()
			if err != nil {
				return err
			}
			ev, vd, err := attestLocal(src, coll, policyPath, nonce, "cctest attest", cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if saveEvidence != "" {
				if err := writeEvidence(saveEvidence, ev); err != nil {
					return usage("--save-evidence: %v", err)
				}
			}
			if err := printVerdict(cmd.OutOrStdout(), vd, output); err != nil {
				return err
			}
			return failed(vd)
		},
	}
	src.addFlags(cmd)
	coll.addFlags(cmd)
	cmd.Flags().StringVar(&policyPath, "policy", "", "attestation policy (YAML)")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	cmd.Flags().StringVar(&saveEvidence, "save-evidence", "", "write the evidence (JSON, base64 fields) to this file")
	cmd.Flags().BoolVar(&host, "host", false, "preflight of a bare-metal Kata host: TDX / SEV-SNP host support, the TDX quote path, Kata handlers (no evidence)")
	cmd.Flags().StringVar(&ho.root, "root", "", "with --host, read the host's files under this directory instead of /")
	cmd.Flags().StringVar(&ho.tee, "tee", "", "with --host, the TEE to check: tdx or snp (default: each whose host parameter exists)")
	cmd.Flags().StringVar(&ho.nfdFeatures, "nfd-features", "", "with --host, write node-feature-discovery's local feature file here")
	cmd.AddCommand(newVerify())
	return cmd
}

func writeEvidence(path string, ev verifier.Evidence) error {
	data, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func newVerify() *cobra.Command {
	var coll collateral
	var evidencePath, policyPath, nonceHex, bindContext, vcekPath, vlekPath, tablePath, output, at string
	cmd := &cobra.Command{
		Use:   "verify --evidence FILE --policy FILE [--nonce HEX]",
		Short: "Verify saved evidence (a raw quote / report, or cctest's evidence JSON)",
		Long: `verify checks evidence saved earlier: a raw TDX quote (v4 or v5), a raw SEV-SNP report
(optionally followed by its certificate table), or the JSON written by
'cctest attest --save-evidence'. Supply the VCEK or the certificate table when
an SNP report lacks them (or let collateral fetching get the VCEK from AMD KDS).
A VLEK-signed report (SIGNING_KEY 1, AWS) needs its VLEK: --vlek or the
certificate table; AMD KDS does not serve VLEKs to tenants.

--nonce is the REPORT_DATA the evidence was requested with (hex, up to 64
bytes, zero-padded); with --bind-context it is the nonce given to
BindReportData(nonce, context) instead. Without --nonce, a policy with
nonce: required fails the nonce check.`,
		Example: `  cctest attest verify --evidence quote.bin --policy tdx-hardware.yaml --nonce 6c62de...
  cctest attest verify --evidence report.bin --vcek vcek.der --policy snp-hardware.yaml --nonce 00ff...
  cctest attest verify --evidence aws-report.bin --vlek vlek.pem --policy snp-hardware.yaml --nonce 00ff...
  cctest attest verify --evidence evidence.json --policy tdx-hardware.yaml \
    --nonce 1a2b... --bind-context "cctest attest" --collateral-dir ./collateral --offline`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if evidencePath == "" || policyPath == "" {
				return usage("--evidence and --policy are required")
			}
			data, err := os.ReadFile(evidencePath)
			if err != nil {
				return usage("--evidence: %v", err)
			}
			ev, err := verifier.ParseEvidence(data)
			if err != nil {
				return usage("--evidence %s: %v", evidencePath, err)
			}
			if vcekPath != "" {
				if ev.VCEK, err = os.ReadFile(vcekPath); err != nil {
					return usage("--vcek: %v", err)
				}
			}
			if vlekPath != "" {
				if ev.VLEK, err = os.ReadFile(vlekPath); err != nil {
					return usage("--vlek: %v", err)
				}
			}
			if tablePath != "" {
				if ev.CertTable, err = os.ReadFile(tablePath); err != nil {
					return usage("--cert-table: %v", err)
				}
			}
			p, err := policy.LoadFile(policyPath)
			if err != nil {
				return usage("%v", err)
			}
			var expected []byte
			if nonceHex != "" {
				n, err := policy.DecodeHex(nonceHex)
				if err != nil {
					return usage("--nonce: not hex: %v", err)
				}
				if bindContext != "" {
					rd := verifier.BindReportData(n, bindContext)
					expected = rd[:]
				} else if len(n) > verifier.ReportDataSize {
					return usage("--nonce: at most 64 bytes, got %d", len(n))
				} else {
					expected = n
				}
			} else if bindContext != "" {
				return usage("--bind-context needs --nonce")
			}
			// Evidence chaining to the test PKI can only get collateral from the fakes.
			opts := coll.options()
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return usage("--at: %v (want RFC 3339, e.g. 2023-07-01T00:00:00Z)", err)
				}
				opts.Now = func() time.Time { return t }
			}
			vd := verifier.New(opts).Verify(ev, p, expected)
			warnPolicy(cmd.ErrOrStderr(), p, vd)
			if err := printVerdict(cmd.OutOrStdout(), vd, output); err != nil {
				return err
			}
			return failed(vd)
		},
	}
	coll.addFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&evidencePath, "evidence", "", "evidence file: raw quote / report, or evidence JSON")
	f.StringVar(&policyPath, "policy", "", "attestation policy (YAML)")
	f.StringVar(&nonceHex, "nonce", "", "expected REPORT_DATA (hex), or the nonce with --bind-context")
	f.StringVar(&bindContext, "bind-context", "", "derive REPORT_DATA as BindReportData(--nonce, this context)")
	f.StringVar(&vcekPath, "vcek", "", "SEV-SNP VCEK certificate (DER or PEM) for a report without certificate table")
	f.StringVar(&vlekPath, "vlek", "", "SEV-SNP VLEK certificate (DER or PEM) for a VLEK-signed report without certificate table")
	f.StringVar(&tablePath, "cert-table", "", "SEV-SNP extended-report certificate table (raw)")
	f.StringVar(&at, "at", "", "verify as of this time (RFC 3339), e.g. for archived evidence")
	f.StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}
