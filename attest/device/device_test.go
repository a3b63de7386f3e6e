package device

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cctest/cctest/api/teename"

	"github.com/cctest/cctest/internal/exitcode"
)

func tempPaths(t *testing.T) Paths {
	d := t.TempDir()
	return Paths{ConfigFSTSM: filepath.Join(d, "tsm/report"), TDXGuest: filepath.Join(d, "tdx_guest"), SEVGuest: filepath.Join(d, "sev-guest")}
}

func TestNoDeviceNamesEveryPath(t *testing.T) {
	p := tempPaths(t)
	_, err := DetectAt(p)
	var nd *NoDeviceError
	if !errors.As(err, &nd) || nd.ExitCode() != exitcode.NoDevice {
		t.Fatalf("err = %v", err)
	}
	for _, path := range []string{p.ConfigFSTSM, p.TDXGuest, p.SEVGuest} {
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name %s", err, path)
		}
	}
}

// A device file being present is not evidence: fetching from a file that is
// not a TEE device fails.
func TestDeviceFileAloneIsNotEvidence(t *testing.T) {
	for _, tc := range []struct{ file, tee string }{{"tdx_guest", teename.TDX}, {"sev-guest", teename.SNP}} {
		p := tempPaths(t)
		path := map[string]string{"tdx_guest": p.TDXGuest, "sev-guest": p.SEVGuest}[tc.file]
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		d, err := DetectAt(p)
		if err != nil || d.TEE() != tc.tee || d.Describe() != path {
			t.Fatalf("DetectAt = %v, %v", d, err)
		}
		if _, err := d.Evidence([64]byte{}); err == nil {
			t.Fatalf("%s: fetching evidence from a plain file succeeded", tc.file)
		}
	}
}

func TestConfigFSDirectoryElsewhereIsNotADevice(t *testing.T) {
	p := tempPaths(t)
	if err := os.MkdirAll(p.ConfigFSTSM, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := DetectAt(p)
	if err == nil || !strings.Contains(err.Error(), "no report could be created") {
		t.Fatalf("err = %v", err)
	}
}

// No Azure vTPM here: a missing TPM is named, and a file that is not a TPM
// is refused with a clear note, not a hang or a panic.
func TestAzureVTPMAbsentOrNotATPM(t *testing.T) {
	p := tempPaths(t)
	p.TPM = filepath.Join(t.TempDir(), "tpmrm0")
	_, err := DetectAt(p)
	var nd *NoDeviceError
	if !errors.As(err, &nd) || !strings.Contains(err.Error(), p.TPM) {
		t.Fatalf("missing TPM: %v", err)
	}
	if err := os.WriteFile(p.TPM, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = DetectAt(p)
	if !errors.As(err, &nd) || !strings.Contains(err.Error(), "is not an Azure CVM vTPM with an HCL report (NV index 0x01400001)") {
		t.Fatalf("plain file as TPM: %v", err)
	}
	d := &azureDevice{path: p.TPM}
	if _, err := d.Evidence([64]byte{}); err == nil {
		t.Fatal("evidence from a plain file")
	}
}
