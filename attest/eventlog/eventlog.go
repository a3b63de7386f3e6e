// Package eventlog reads a TD's confidential-computing event log (CCEL:
// the TCG2 crypto-agile log format, as the ACPI CCEL table's log area gives
// it), replays it into the TDX runtime measurement registers and describes
// its events for people.
//
// Parsing is done by github.com/google/go-eventlog (tcg.ParseEventLog, with
// CCEL's trailing 0xFF padding allowed); the replay is done here, so a
// mismatch can name the register and the events that extended it.
//
// CCEL measurement-register index mapping (TDX GHCI 1.5, go-eventlog
// register.RTMR.Idx): index 0 is MRTD (never extended by events), 1 is RTMR0,
// 2 RTMR1, 3 RTMR2, 4 RTMR3. An RTMR starts at 48 zero bytes and each event
// extends it: RTMR = SHA-384(RTMR || event's SHA-384 digest).
package eventlog

import (
	"bytes"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/google/go-eventlog/register"
	"github.com/google/go-eventlog/tcg"
)

// DigestSize is the size of an RTMR and of an event's SHA-384 digest.
const DigestSize = sha512.Size384

// MaxLogSize bounds what Parse accepts (the CCEL log area of real TDs is
// 64 KiB to a few MiB).
const MaxLogSize = 16 << 20

// RTMRCount is the number of TDX runtime measurement registers.
const RTMRCount = 4

// Event types used here (TCG PC Client PFP).
const (
	EvNoAction                          = uint32(tcg.NoAction)
	EvSeparator                         = uint32(tcg.Separator)
	EvEventTag                          = uint32(tcg.EventTag)
	EvIPL                               = uint32(tcg.Ipl)
	EvEFIAction                         = uint32(tcg.EFIAction)
	EvEFIBootServicesApplication        = uint32(tcg.EFIBootServicesApplication)
	EvEFIPlatformFirmwareBlob2          = uint32(tcg.EFIPlatformFirmwareBlob2)
	EvEFIHandoffTables2                 = uint32(tcg.EFIHandoffTables2)
	EvEFIPlatformFirmwareBlob           = uint32(tcg.EFIPlatformFirmwareBlob)
	EvEFIVariableDriverConfig           = uint32(tcg.EFIVariableDriverConfig)
	EvEFIVariableBoot                   = uint32(tcg.EFIVariableBoot)
	EvEFIVariableBoot2                  = uint32(tcg.EFIVariableBoot2)
	EvEFIVariableAuthority              = uint32(tcg.EFIVariableAuthority)
	ccMRIndexRTMR0                      = 1
	descKernelCmdline                   = "kernel command line"
	kernelCmdlinePrefix                 = "kernel_cmdline: "
	specIDSignature                     = "Spec ID Event03\x00"
	tpmAlgSHA384                 uint16 = 0x000C
)

// Event is one measured event of the log.
type Event struct {
	// Seq is the event's position in the log (1 = first event after the
	// Spec ID event).
	Seq int `json:"seq"`
	// RTMR is the register the event extends (0-3); -1 for MR index 0
	// (MRTD, which events do not extend) or an index beyond RTMR3.
	RTMR int `json:"rtmr"`
	// MRIndex is the CC measurement-register index as logged (RTMR + 1).
	MRIndex uint32 `json:"mrIndex"`
	// Type is the TCG event type name ("EV_IPL", ...).
	Type     string `json:"type"`
	TypeCode uint32 `json:"typeCode"`
	// Digest is the event's SHA-384 digest (what extends the RTMR), hex.
	Digest string `json:"digest"`
	// Description is what the event measures, for people ("firmware",
	// "kernel command line", ...).
	Description string `json:"description"`
	// Text is the event data made readable (ASCII / UTF-16 text, else hex).
	Text string `json:"text,omitempty"`
	// Data is the raw event data.
	Data []byte `json:"-"`
}

// Log is a parsed event log.
type Log struct {
	Events []Event
}

// Parse reads a CCEL / TCG2 crypto-agile event log. Hostile input gives an
// error, never a panic.
func Parse(raw []byte) (l *Log, err error) {
	if len(raw) == 0 {
		return nil, errors.New("event log is empty")
	}
	if len(raw) > MaxLogSize {
		return nil, fmt.Errorf("event log is %d bytes, larger than the %d-byte limit", len(raw), MaxLogSize)
	}
	defer func() {
		if r := recover(); r != nil {
			l, err = nil, fmt.Errorf("event log: malformed input (%v)", r)
		}
	}()
	if len(raw) < 32 || binary.LittleEndian.Uint32(raw[4:8]) != EvNoAction ||
		!bytes.Contains(raw[:min(len(raw), 64)], []byte("Spec ID Event03")) {
		return nil, errors.New("event log: not a TCG2 crypto-agile log (the first event is not the EV_NO_ACTION \"Spec ID Event03\" header)")
	}
	el, err := tcg.ParseEventLog(raw, tcg.ParseOpts{AllowPadding: true})
	if err != nil {
		return nil, fmt.Errorf("event log: %v", err)
	}
	hasSHA384 := false
	for _, a := range el.Algs {
		hasSHA384 = hasSHA384 || a == register.HashSHA384
	}
	if !hasSHA384 {
		return nil, errors.New("event log: its Spec ID header lists no SHA-384 digests (a TDX CCEL carries SHA-384)")
	}
	l = &Log{}
	for i, e := range el.Events(register.HashSHA384) {
		typ := uint32(e.Type)
		if typ == EvNoAction {
			continue // informational, extends nothing
		}
		idx := uint32(e.Index)
		ev := Event{Seq: i + 1, MRIndex: idx, RTMR: -1, TypeCode: typ, Type: typeName(typ), Data: e.Data}
		if idx >= ccMRIndexRTMR0 && idx < ccMRIndexRTMR0+RTMRCount {
			ev.RTMR = int(idx) - ccMRIndexRTMR0
		}
		if ev.RTMR >= 0 && len(e.Digest) != DigestSize {
			return nil, fmt.Errorf("event log: event %d (%s, MR index %d) has no SHA-384 digest", ev.Seq, ev.Type, idx)
		}
		ev.Digest = hex.EncodeToString(e.Digest)
		ev.Description, ev.Text = describe(typ, e.Data)
		l.Events = append(l.Events, ev)
	}
	return l, nil
}

// Extend returns SHA-384(mr || digest).
func Extend(mr, digest []byte) []byte {
	h := sha512.New384()
	h.Write(mr)
	h.Write(digest)
	return h.Sum(nil)
}

// Replay returns RTMR0-3 as the log's events extend them from zero.
func (l *Log) Replay() [RTMRCount][]byte {
	return ReplayEvents(l.Events)
}

// ReplayEvents extends RTMR0-3 from zero with the events' digests.
func ReplayEvents(events []Event) [RTMRCount][]byte {
	var out [RTMRCount][]byte
	for i := range out {
		out[i] = make([]byte, DigestSize)
	}
	for _, e := range events {
		if e.RTMR < 0 || e.RTMR >= RTMRCount {
			continue
		}
		d, err := hex.DecodeString(e.Digest)
		if err != nil {
			continue
		}
		out[e.RTMR] = Extend(out[e.RTMR], d)
	}
	return out
}

// For returns the events that extend one RTMR, in log order.
func (l *Log) For(rtmr int) []Event {
	return EventsFor(l.Events, rtmr)
}

// EventsFor filters events by RTMR.
func EventsFor(events []Event, rtmr int) []Event {
	var out []Event
	for _, e := range events {
		if e.RTMR == rtmr {
			out = append(out, e)
		}
	}
	return out
}

// String renders an event on one line: "#7 RTMR2 EV_IPL kernel command line: \"...\"".
func (e Event) String() string {
	s := fmt.Sprintf("#%d RTMR%d %s %s", e.Seq, e.RTMR, e.Type, e.Description)
	if e.Text != "" && e.Text != e.Description {
		s += fmt.Sprintf(": %q", clip(e.Text, 120))
	}
	return s
}

// Same reports whether two events measure the same thing (register, type,
// digest).
func (e Event) Same(o Event) bool {
	return e.RTMR == o.RTMR && e.TypeCode == o.TypeCode && strings.EqualFold(e.Digest, o.Digest)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func typeName(t uint32) string {
	s := tcg.EventType(t).TCGString()
	if s == "" || strings.HasPrefix(s, "0x") {
		return fmt.Sprintf("EV_0x%08x", t)
	}
	return s
}

// describe names what an event measures and renders its data as text.
func describe(typ uint32, data []byte) (string, string) {
	text := readable(data)
	lower := strings.ToLower(text)
	switch {
	case strings.HasPrefix(lower, kernelCmdlinePrefix), strings.HasPrefix(lower, "grub_kernel_cmdline"),
		strings.HasPrefix(lower, "grub_cmd: linux"), strings.Contains(lower, "loadoptions"):
		return descKernelCmdline, strings.TrimSpace(strings.TrimPrefix(text, kernelCmdlinePrefix))
	case strings.Contains(lower, "initrd"), strings.Contains(lower, "initramfs"):
		return "initrd", text
	}
	switch typ {
	case EvEFIPlatformFirmwareBlob, EvEFIPlatformFirmwareBlob2:
		return "firmware", text
	case EvEFIBootServicesApplication:
		if strings.Contains(lower, "kernel") || strings.Contains(lower, "vmlinuz") {
			return "kernel", text
		}
		return "boot application (boot loader / kernel)", text
	case EvSeparator:
		return "separator", text
	case EvEFIHandoffTables2:
		return "firmware handoff tables", text
	case EvEFIVariableDriverConfig, EvEFIVariableBoot, EvEFIVariableBoot2, EvEFIVariableAuthority:
		return "UEFI variable", text
	case EvIPL:
		if strings.HasPrefix(lower, "kernel") {
			return "kernel", text
		}
		return "boot loader measurement", text
	}
	return typeName(typ), text
}

// readable renders event data as text when it is ASCII / UTF-8 or UTF-16LE
// text, else as (truncated) hex.
func readable(b []byte) string {
	t := bytes.TrimRight(b, "\x00")
	if len(t) == 0 {
		if len(b) == 0 {
			return ""
		}
		return hex.EncodeToString(b)
	}
	if utf8.Valid(t) && printable(string(t)) {
		return string(t)
	}
	if len(b) >= 4 && len(b)%2 == 0 {
		u := make([]uint16, 0, len(b)/2)
		for i := 0; i+1 < len(b); i += 2 {
			u = append(u, binary.LittleEndian.Uint16(b[i:]))
		}
		for len(u) > 0 && u[len(u)-1] == 0 {
			u = u[:len(u)-1]
		}
		if s := string(utf16.Decode(u)); len(u) > 0 && printable(s) {
			return s
		}
	}
	if len(b) > 32 {
		return hex.EncodeToString(b[:32]) + fmt.Sprintf("… (%d bytes)", len(b))
	}
	return hex.EncodeToString(b)
}

func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) && r != '\t' && r != '\n' && r != '\r' {
			return false
		}
	}
	return true
}

// Digest returns SHA-384(data), the digest an event over data carries.
func Digest(data []byte) []byte {
	d := sha512.Sum384(data)
	return d[:]
}

// NewEvent makes an event extending an RTMR (0-3) with SHA-384(measured)
// and carrying data; used to build logs (simulators, tests).
func NewEvent(rtmr int, typ uint32, measured, data []byte) Event {
	desc, text := describe(typ, data)
	return Event{RTMR: rtmr, MRIndex: uint32(rtmr + ccMRIndexRTMR0), TypeCode: typ, Type: typeName(typ),
		Digest: hex.EncodeToString(Digest(measured)), Description: desc, Text: text, Data: bytes.Clone(data)}
}

// KernelCmdlineEvent is the EV_IPL event a boot loader logs for the kernel
// command line (measured: the command line text) into RTMR2.
func KernelCmdlineEvent(cmdline string) Event {
	return NewEvent(2, EvIPL, []byte(cmdline), []byte(kernelCmdlinePrefix+cmdline+"\x00"))
}

// Encode writes events as a TCG2 crypto-agile log with a SHA-384-only Spec
// ID header, as a TD's firmware writes the CCEL log area. Seq is assigned.
func Encode(events []Event) ([]byte, error) {
	var b bytes.Buffer
	le := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	// Spec ID event, in the SHA-1 (TCG_PCR_EVENT) format.
	var spec bytes.Buffer
	spec.WriteString(specIDSignature)
	_ = binary.Write(&spec, binary.LittleEndian, uint32(0)) // platform class
	spec.Write([]byte{0, 2, 0, 2})                          // version minor, major, errata, uintn size
	_ = binary.Write(&spec, binary.LittleEndian, uint32(1)) // number of algorithms
	_ = binary.Write(&spec, binary.LittleEndian, tpmAlgSHA384)
	_ = binary.Write(&spec, binary.LittleEndian, uint16(DigestSize))
	spec.WriteByte(0) // vendor info size
	le(uint32(0))
	le(EvNoAction)
	b.Write(make([]byte, 20))
	le(uint32(spec.Len()))
	b.Write(spec.Bytes())
	for i, e := range events {
		if e.RTMR < 0 || e.RTMR >= RTMRCount {
			return nil, fmt.Errorf("event %d: RTMR %d out of range 0-3", i+1, e.RTMR)
		}
		d, err := hex.DecodeString(e.Digest)
		if err != nil || len(d) != DigestSize {
			return nil, fmt.Errorf("event %d: digest must be %d bytes of hex", i+1, DigestSize)
		}
		le(uint32(e.RTMR + ccMRIndexRTMR0))
		le(e.TypeCode)
		le(uint32(1))
		le(tpmAlgSHA384)
		b.Write(d)
		le(uint32(len(e.Data)))
		b.Write(e.Data)
	}
	return b.Bytes(), nil
}
