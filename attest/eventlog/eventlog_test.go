package eventlog

import (
	"bytes"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	tdxabi "github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
)

// testdata/ccel_data.dat and cos-113-tdx-quote.dat come from go-tdx-guest's
// testing/testdata/ccel (Apache-2.0): a real COS 113 TD's CCEL log area and
// a quote from the same TD.
func TestRealCCELReplaysToItsQuote(t *testing.T) {
	raw, err := os.ReadFile("testdata/ccel_data.dat")
	if err != nil {
		t.Fatal(err)
	}
	q, err := os.ReadFile("testdata/cos-113-tdx-quote.dat")
	if err != nil {
		t.Fatal(err)
	}
	l, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := tdxabi.QuoteToProto(q)
	if err != nil {
		t.Fatal(err)
	}
	rtmrs := parsed.(*pb.QuoteV4).GetTdQuoteBody().GetRtmrs()
	got := l.Replay()
	for i := 0; i < 3; i++ {
		if !bytes.Equal(got[i], rtmrs[i]) {
			t.Errorf("RTMR%d: replay %x, quote %x", i, got[i], rtmrs[i])
		}
	}
	var cmdline bool
	for _, e := range l.Events {
		cmdline = cmdline || e.Description == descKernelCmdline
	}
	if !cmdline {
		for _, e := range l.For(2) {
			t.Log(e)
		}
		t.Error("no kernel command line event recognised in the real log")
	}
}

func simEvents(cmdline string) []Event {
	return []Event{
		NewEvent(0, EvEFIPlatformFirmwareBlob2, []byte("fw"), []byte("TDVF")),
		NewEvent(1, EvEFIBootServicesApplication, []byte("kernel"), []byte("kernel: vmlinuz")),
		KernelCmdlineEvent(cmdline),
		NewEvent(2, EvIPL, []byte("initrd"), []byte("initrd: initrd.img")),
	}
}

func TestEncodeParseReplay(t *testing.T) {
	evs := simEvents("console=ttyS0 ro")
	raw, err := Encode(evs)
	if err != nil {
		t.Fatal(err)
	}
	// CCEL log areas are padded with 0xFF.
	raw = append(raw, bytes.Repeat([]byte{0xff}, 64)...)
	l, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Events) != 4 || l.Events[2].Description != descKernelCmdline || l.Events[2].Text != "console=ttyS0 ro" {
		t.Fatalf("events: %v", l.Events)
	}
	want := ReplayEvents(evs)
	got := l.Replay()
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("RTMR%d differs", i)
		}
	}
	if hex.EncodeToString(got[3]) != strings.Repeat("00", 48) {
		t.Errorf("RTMR3 without events must stay zero: %x", got[3])
	}
	changed, _ := Encode(simEvents("console=ttyS0 ro debug"))
	l2, err := Parse(changed)
	if err != nil {
		t.Fatal(err)
	}
	r2 := l2.Replay()
	if bytes.Equal(r2[2], got[2]) || !bytes.Equal(r2[0], got[0]) || !bytes.Equal(r2[1], got[1]) {
		t.Error("a changed command line must change RTMR2 only")
	}
}

func TestParseBadInput(t *testing.T) {
	good, _ := Encode(simEvents("x"))
	for name, in := range map[string][]byte{
		"empty": nil, "garbage": []byte("hello, this is not an event log at all......"),
		"truncated": good[:len(good)-5], "zeros": make([]byte, 100),
	} {
		if _, err := Parse(in); err == nil {
			t.Errorf("%s: parsed", name)
		} else if !strings.Contains(err.Error(), "event log") {
			t.Errorf("%s: unclear error %v", name, err)
		}
	}
}

// FuzzParse: hostile event logs give an error, never a panic.
func FuzzParse(f *testing.F) {
	good, _ := Encode(simEvents("console=ttyS0"))
	f.Add(good)
	f.Add(good[:60])
	if real, err := os.ReadFile("testdata/ccel_data.dat"); err == nil {
		f.Add(real[:4096])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := Parse(b)
		if err != nil {
			return
		}
		_ = l.Replay()
		for _, e := range l.Events {
			_ = e.String()
		}
	})
}
