package diffcmd

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cctest/cctest/attest/eventlog"
	"github.com/cctest/cctest/attest/release"
	"github.com/cctest/cctest/internal/exitcode"
)

func writeRecord(t *testing.T, dir, name, cmdline string) string {
	events := []eventlog.Event{eventlog.KernelCmdlineEvent(cmdline)}
	r := eventlog.ReplayEvents(events)
	rec := &release.Record{APIVersion: release.APIVersion, Kind: release.Kind, Version: release.Version, Name: name, TEE: "tdx", TDX: &release.TDX{MRTD: strings.Repeat("ab", 48),
		RTMR0: hex.EncodeToString(r[0]), RTMR1: hex.EncodeToString(r[1]), RTMR2: hex.EncodeToString(r[2]), Events: events}}
	path := filepath.Join(dir, name+".json")
	if err := rec.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(args ...string) (string, int) {
	var out bytes.Buffer
	cmd := New()
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	code, _ := exitcode.Of(err)
	if err != nil {
		out.WriteString(err.Error())
	}
	return out.String(), code
}

// Two releases whose kernel command line differs: exit 1 and the changed
// register with the event that changed it; a release against itself: 0.
func TestDiffOfReleases(t *testing.T) {
	dir := t.TempDir()
	a := writeRecord(t, dir, "old", "console=ttyS0 ro")
	b := writeRecord(t, dir, "new", "console=ttyS0 ro debug")
	out, code := run(a, b)
	if code != exitcode.Failed || !strings.Contains(out, "RTMR2: ") || !strings.Contains(out, `kernel command line changed: "console=ttyS0 ro" → "console=ttyS0 ro debug"`) {
		t.Fatalf("diff: exit %d\n%s", code, out)
	}
	if out, code := run(a, a); code != 0 || strings.TrimSpace(out) != "" {
		t.Errorf("a release against itself: exit %d\n%s", code, out)
	}
}

// Two runs' report files: the reports package's own testdata.
func TestDiffOfRunsAndBadInput(t *testing.T) {
	failing := filepath.Join("..", "..", "reports", "testdata", "tampered-quote.json")
	if out, code := run(failing, failing); code != 0 {
		t.Errorf("a run against itself: exit %d\n%s", code, out)
	}
	junk := filepath.Join(t.TempDir(), "junk.json")
	os.WriteFile(junk, []byte("not json"), 0o644)
	if out, code := run(failing, junk); code != exitcode.Usage || !strings.Contains(out, "neither a release record nor a run's report") {
		t.Errorf("junk input: exit %d\n%s", code, out)
	}
}
