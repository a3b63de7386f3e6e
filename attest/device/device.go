// Package device finds the TEE guest device of the machine it runs on and
// fetches evidence from it (simulated machines implement the same Device
// interface in simulators/tee/simdevice). Finding a device is never evidence: callers always
// fetch a quote and verify it.
package device

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cctest/cctest/api/teename"

	"github.com/cctest/cctest/internal/exitcode"

	"github.com/cctest/cctest/attest/internal/quietlog"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/google/go-configfs-tsm/configfs/linuxtsm"
	"github.com/google/go-configfs-tsm/report"
	sevclient "github.com/google/go-sev-guest/client"
	tdxclient "github.com/google/go-tdx-guest/client"
)

var _ = quietlog.Enabled()

// Device is a source of TEE evidence.
type Device interface {
	// TEE is "tdx" or "sev-snp".
	TEE() string
	// Describe names the device ("configfs-tsm (tdx_guest)", "/dev/sev-guest", "simulated tdx machine node-1").
	Describe() string
	// Evidence fetches fresh evidence bound to reportData.
	Evidence(reportData [64]byte) (verifier.Evidence, error)
}

// Default device paths, in the order they are tried.
const (
	ConfigFSTSMPath = "/sys/kernel/config/tsm/report"
	TDXGuestPath    = "/dev/tdx_guest"
	SEVGuestPath    = "/dev/sev-guest"
)

// Paths are the places Detect looks; tests point them at a temp dir.
type Paths struct {
	ConfigFSTSM, TDXGuest, SEVGuest string
	// TPM is the vTPM of an Azure CVM ("" skips it).
	TPM string
}

// DefaultPaths are the Linux paths.
var DefaultPaths = Paths{ConfigFSTSM: ConfigFSTSMPath, TDXGuest: TDXGuestPath, SEVGuest: SEVGuestPath, TPM: TPMPath}

// NoDeviceError says no TEE device was found; it names every path checked.
type NoDeviceError struct {
	Checked []string
	Notes   []string
}

func (e *NoDeviceError) Error() string {
	msg := "no TEE device found (checked " + strings.Join(e.Checked, ", ") + ")"
	if len(e.Notes) > 0 {
		msg += ": " + strings.Join(e.Notes, "; ")
	}
	return msg + ". Run on a TDX or SEV-SNP guest, or use --simulate tdx|snp"
}

// ExitCode is 2: "no TEE here" is distinct from "evidence failed".
func (e *NoDeviceError) ExitCode() int { return exitcode.NoDevice }

// Detect finds the TEE device: configfs-tsm first, then /dev/tdx_guest,
// then /dev/sev-guest, then an Azure CVM's vTPM.
func Detect() (Device, error) { return DetectAt(DefaultPaths) }

// DetectAt is Detect with explicit paths.
func DetectAt(p Paths) (Device, error) {
	nd := &NoDeviceError{Checked: []string{p.ConfigFSTSM, p.TDXGuest, p.SEVGuest}}
	if st, err := os.Stat(p.ConfigFSTSM); err == nil && st.IsDir() {
		provider, err := configfsProvider(p.ConfigFSTSM)
		switch {
		case err != nil:
			nd.Notes = append(nd.Notes, fmt.Sprintf("%s exists but no report could be created: %v", p.ConfigFSTSM, err))
		case strings.HasPrefix(provider, "tdx_guest"):
			return &configfsDevice{tee: teename.TDX, provider: provider}, nil
		case strings.HasPrefix(provider, "sev_guest"):
			return &configfsDevice{tee: teename.SNP, provider: provider}, nil
		default:
			nd.Notes = append(nd.Notes, fmt.Sprintf("%s has unsupported provider %q", p.ConfigFSTSM, provider))
		}
	}
	if _, err := os.Stat(p.TDXGuest); err == nil {
		return &tdxIoctlDevice{path: p.TDXGuest}, nil
	}
	if _, err := os.Stat(p.SEVGuest); err == nil {
		return &sevIoctlDevice{path: p.SEVGuest}, nil
	}
	if p.TPM != "" { // Azure CVMs hide the SNP device behind a paravisor and its vTPM
		nd.Checked = append(nd.Checked, p.TPM)
		if _, err := os.Stat(p.TPM); err == nil {
			if err := probeAzure(p.TPM); err != nil {
				nd.Notes = append(nd.Notes, fmt.Sprintf("%s is not an Azure CVM vTPM with an HCL report (NV index 0x%08x): %v", p.TPM, nvHCLReport, err))
			} else {
				return &azureDevice{path: p.TPM}, nil
			}
		}
	}
	return nil, nd
}

// configfsProvider creates a report entry under root and reads its provider.
func configfsProvider(root string) (string, error) {
	if filepath.Clean(root) != ConfigFSTSMPath {
		// go-configfs-tsm's Linux client only works on the real path.
		return "", errors.New("configfs-tsm is only supported at " + ConfigFSTSMPath)
	}
	c, err := linuxtsm.MakeClient()
	if err != nil {
		return "", err
	}
	r, err := report.Create(c, &report.Request{})
	if err != nil {
		return "", err
	}
	defer r.Destroy()
	b, err := r.ReadOption("provider")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

type configfsDevice struct{ tee, provider string }

func (d *configfsDevice) TEE() string { return d.tee }

func (d *configfsDevice) Describe() string { return "configfs-tsm (" + d.provider + ")" }

func (d *configfsDevice) Evidence(rd [64]byte) (verifier.Evidence, error) {
	var raw []byte
	var err error
	if d.tee == teename.TDX {
		raw, err = (&tdxclient.LinuxConfigFsQuoteProvider{}).GetRawQuote(rd)
	} else {
		raw, err = (&sevclient.LinuxConfigFsQuoteProvider{}).GetRawQuote(rd)
	}
	if err != nil {
		return verifier.Evidence{}, fmt.Errorf("%s: %w", d.Describe(), err)
	}
	return verifier.Evidence{TEE: d.tee, Raw: raw, EventLog: readCCEL(d.tee), Nonce: rd[:], Source: d.Describe()}, nil
}

type tdxIoctlDevice struct{ path string }

func (d *tdxIoctlDevice) TEE() string      { return teename.TDX }
func (d *tdxIoctlDevice) Describe() string { return d.path }

func (d *tdxIoctlDevice) Evidence(rd [64]byte) (verifier.Evidence, error) {
	dev := &tdxclient.LinuxDevice{}
	if err := dev.Open(d.path); err != nil {
		return verifier.Evidence{}, err
	}
	defer dev.Close()
	raw, err := tdxclient.GetRawQuote(dev, rd)
	if err != nil {
		return verifier.Evidence{}, fmt.Errorf("%s: %w", d.path, err)
	}
	return verifier.Evidence{TEE: teename.TDX, Raw: raw, EventLog: readCCEL(teename.TDX), Nonce: rd[:], Source: d.path}, nil
}

type sevIoctlDevice struct{ path string }

func (d *sevIoctlDevice) TEE() string      { return teename.SNP }
func (d *sevIoctlDevice) Describe() string { return d.path }

func (d *sevIoctlDevice) Evidence(rd [64]byte) (verifier.Evidence, error) {
	dev := &sevclient.LinuxDevice{}
	if err := dev.Open(d.path); err != nil {
		return verifier.Evidence{}, err
	}
	defer dev.Close()
	report, certs, err := sevclient.GetRawExtendedReportAtVmpl(dev, rd, 0) //nolint:staticcheck // the leveled provider hard-codes /dev/sev-guest
	if err != nil {
		return verifier.Evidence{}, fmt.Errorf("%s: %w", d.path, err)
	}
	return verifier.Evidence{TEE: teename.SNP, Raw: report, CertTable: certs, Nonce: rd[:], Source: d.path}, nil
}
