package tee

import (
	"bytes"

	"github.com/cctest/cctest/attest/eventlog"
)

// BootChain is what a simulated TD's firmware and boot loader measure into
// RTMR0-2 and log in its CCEL event log.
type BootChain struct {
	Firmware string // RTMR0: EV_EFI_PLATFORM_FIRMWARE_BLOB2
	Kernel   string // RTMR1: EV_EFI_BOOT_SERVICES_APPLICATION
	Cmdline  string // RTMR2: EV_IPL "kernel_cmdline: ..."
	Initrd   string // RTMR2: EV_IPL "initrd: ..."
}

// DefaultBootChain is the simulated node image's boot chain.
func DefaultBootChain() BootChain {
	return BootChain{
		Firmware: "TDVF cctest-sim 2026.1",
		Kernel:   "vmlinuz-6.8.0-cctest",
		Cmdline:  "console=ttyS0 root=/dev/vda1 ro",
		Initrd:   "initrd.img-6.8.0-cctest",
	}
}

// ChangedCmdlineSuffix is what FaultChangedCmdline appends to the kernel
// command line (the Kata annotation that opens the guest's /aa/* API).
const ChangedCmdlineSuffix = " agent.guest_components_rest_api=all"

// Events returns the boot chain's CCEL events, in log order. Each digest is
// SHA-384 of the measured content (here: derived from the names).
func (b BootChain) Events() []eventlog.Event {
	sep := []byte{0, 0, 0, 0}
	return []eventlog.Event{
		eventlog.NewEvent(0, eventlog.EvEFIPlatformFirmwareBlob2, []byte("firmware image "+b.Firmware), []byte(b.Firmware)),
		eventlog.NewEvent(0, eventlog.EvEFIHandoffTables2, []byte("td hob "+b.Firmware), []byte("TD HOB")),
		eventlog.NewEvent(0, eventlog.EvSeparator, sep, sep),
		eventlog.NewEvent(1, eventlog.EvEFIBootServicesApplication, []byte("kernel image "+b.Kernel), []byte("kernel: "+b.Kernel)),
		eventlog.NewEvent(1, eventlog.EvSeparator, sep, sep),
		eventlog.KernelCmdlineEvent(b.Cmdline),
		eventlog.NewEvent(2, eventlog.EvIPL, []byte("initrd image "+b.Initrd), []byte("initrd: "+b.Initrd)),
	}
}

// setBoot makes the machine's RTMR0-2 the replay of the boot chain's
// events and keeps the log (CCEL log areas end in 0xFF padding). RTMR3 is
// left as configured: the running guest extends it outside the CCEL.
func (m *TDXMachine) setBoot(b BootChain) {
	if m.faults[FaultChangedCmdline] {
		b.Cmdline += ChangedCmdlineSuffix
	}
	m.boot = &b
	events := b.Events()
	raw, err := eventlog.Encode(events)
	if err != nil {
		panic("simulated boot chain: " + err.Error()) // built above, always valid
	}
	m.eventLog = append(raw, bytes.Repeat([]byte{0xff}, 256)...)
	r := eventlog.ReplayEvents(events)
	for i := 0; i < 3; i++ {
		m.rtmr[i] = r[i]
	}
}

// EventLog returns the machine's CCEL event log (nil when it has no boot
// chain: its RTMRs are then fixed values no log replays to).
func (m *TDXMachine) EventLog() []byte { return bytes.Clone(m.eventLog) }

// Boot returns the machine's boot chain (nil without one).
func (m *TDXMachine) Boot() *BootChain {
	if m.boot == nil {
		return nil
	}
	b := *m.boot
	return &b
}

// RTMRs returns RTMR0-3 as the machine reports them.
func (m *TDXMachine) RTMRs() [4][]byte {
	var out [4][]byte
	for i, r := range m.rtmr {
		out[i] = bytes.Clone(r)
	}
	return out
}
