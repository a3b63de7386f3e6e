package release

import (
	"strings"
	"testing"

	"github.com/cctest/cctest/attest/eventlog"
)

func recordWithCmdline(cmdline string) *Record {
	events := []eventlog.Event{
		eventlog.NewEvent(0, eventlog.EvEFIPlatformFirmwareBlob2, []byte("fw"), []byte("TDVF")),
		eventlog.KernelCmdlineEvent(cmdline),
	}
	r := eventlog.ReplayEvents(events)
	return &Record{Name: "r", TEE: "tdx", TDX: &TDX{MRTD: strings.Repeat("ab", 48),
		RTMR0: hex(r[0]), RTMR1: hex(r[1]), RTMR2: hex(r[2]), Events: events}}
}

// Two releases whose kernel command line differs: RTMR2 changed, and the
// change names the event with its old and new text.
func TestDiffNamesTheChangedEvent(t *testing.T) {
	changes := Diff(recordWithCmdline("console=ttyS0 ro"), recordWithCmdline("console=ttyS0 ro debug"))
	if len(changes) != 1 || changes[0].What != "RTMR2" {
		t.Fatalf("changes %+v, want RTMR2 only", changes)
	}
	if why := strings.Join(changes[0].Why, "\n"); !strings.Contains(why, "kernel command line changed") || !strings.Contains(why, `"console=ttyS0 ro debug"`) {
		t.Errorf("why %q does not name the command line change", why)
	}
	if c := Diff(recordWithCmdline("a"), recordWithCmdline("a")); len(c) != 0 {
		t.Errorf("identical releases differ: %+v", c)
	}
}
