package tee

import (
	"encoding/hex"
	"fmt"

	"github.com/cctest/cctest/api/teename"
)

// GuestSize is the VM a Kata runtime gives a pod: its vCPUs and memory.
type GuestSize struct {
	VCPUs     int
	MemoryMiB int
}

func (s GuestSize) String() string { return fmt.Sprintf("%d vCPU, %d MiB", s.VCPUs, s.MemoryMiB) }

// KataGuestImage names the reference Kata guest image (TDVF / OVMF, guest
// kernel, initrd) whose measurements simulated Kata guests report.
const KataGuestImage = "kata-cc-guest-3.20"

// KataGuestMeasurements are the reference guest image's measurements at one
// size, keyed "mrtd", "rtmr0".."rtmr3" (TDX) or "snp". As on real hardware
// the firmware's MRTD is fixed, while TDX RTMR0 (the TD HOB / ACPI tables
// TDVF measures) depends on vCPUs and memory, and the SNP launch
// measurement on the vCPU count (one VMSA page per vCPU).
func KataGuestMeasurements(tee string, s GuestSize) map[string][]byte {
	img := "kata-guest/" + KataGuestImage + "/"
	switch tee {
	case teename.TDX:
		return map[string][]byte{
			"mrtd":  measurement(img + "tdx/mrtd"),
			"rtmr0": measurement(fmt.Sprintf("%stdx/rtmr0/%dvcpu/%dmib", img, s.VCPUs, s.MemoryMiB)),
			"rtmr1": measurement(img + "tdx/rtmr1"),
			"rtmr2": measurement(img + "tdx/rtmr2"),
			"rtmr3": make([]byte, 48), // nothing extends RTMR3 in a Kata guest at launch
		}
	case teename.SNP:
		return map[string][]byte{"snp": measurement(fmt.Sprintf("%ssnp/%dvcpu", img, s.VCPUs))}
	}
	return nil
}

// KataGuestMeasurementsHex is KataGuestMeasurements in hex (for policies).
func KataGuestMeasurementsHex(tee string, s GuestSize) map[string]string {
	out := map[string]string{}
	for k, v := range KataGuestMeasurements(tee, s) {
		out[k] = hex.EncodeToString(v)
	}
	return out
}

// KataGuestOptions describe one Kata pod's guest VM.
type KataGuestOptions struct {
	Name string    // the guest (e.g. the pod)
	Host string    // the machine it runs on: its hardware identity
	TEE  string    // tdx or sev-snp
	Size GuestSize // from the pod's resources
	// Faults of the host hardware (debug, tampered, wrong measurement, ...).
	Faults []Fault
}

// NewKataGuest creates the TD / SNP guest of one Kata pod: the guest
// image's measurements for its size, the host's PPID / CHIP_ID, its own keys.
func NewKataGuest(o KataGuestOptions) (Machine, error) {
	m := KataGuestMeasurements(o.TEE, o.Size)
	switch o.TEE {
	case teename.TDX:
		return NewTDXMachine(TDXOptions{Name: o.Name, Host: o.Host, MRTD: m["mrtd"],
			RTMR: [4][]byte{m["rtmr0"], m["rtmr1"], m["rtmr2"], m["rtmr3"]}, Faults: o.Faults}), nil
	case teename.SNP:
		return NewSNPMachine(SNPOptions{Name: o.Name, Host: o.Host, Measurement: m["snp"], Faults: o.Faults})
	}
	return nil, fmt.Errorf("kata guest %s: unknown TEE %q (want tdx or sev-snp)", o.Name, o.TEE)
}

// identityName is what seeds a machine's hardware identity.
func identityName(name, host string) string {
	if host != "" {
		return host
	}
	return name
}
