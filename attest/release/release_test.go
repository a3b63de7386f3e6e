package release

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cctest/cctest/attest/eventlog"
	"github.com/cctest/cctest/attest/policy"
)

const commented = `# Production TDX policy: keep this comment.
apiVersion: cctest.dev/v1alpha1
kind: AttestationPolicy
name: prod   # trailing comment
trustRoots: [vendor]
tdx:
  # the allowlist, newest last
  allowedMeasurements:
  - name: old-release   # 2026.10
    mrtd: "` + "aa" + `"
  # TCB floor below
  minimumQeSvn: 8
# SNP section
snp:
  allowedMeasurements:
  - name: snp-old
    measurement: "` + "bb" + `"
`

func doc() string {
	return strings.NewReplacer(`"aa"`, `"`+strings.Repeat("aa", 48)+`"`, `"bb"`, `"`+strings.Repeat("bb", 48)+`"`).Replace(commented)
}

func tdxRecord(name string) *Record {
	evs := []eventlog.Event{eventlog.NewEvent(0, eventlog.EvEFIPlatformFirmwareBlob2, []byte("fw"), []byte("TDVF")),
		eventlog.KernelCmdlineEvent("console=ttyS0 ro")}
	r := eventlog.ReplayEvents(evs)
	return &Record{APIVersion: APIVersion, Kind: Kind, Version: Version, Name: name, NodeType: "gcp-c3", VMSize: "c3-standard-8",
		TEE: "tdx", MeasuredAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		TDX: &TDX{MRTD: strings.Repeat("cc", 48), RTMR0: hex(r[0]), RTMR1: hex(r[1]), RTMR2: hex(r[2]), Events: evs}}
}

func hex(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestAddReleaseKeepsCommentsAndOrder(t *testing.T) {
	out, err := AddToPolicy([]byte(doc()), tdxRecord("rel-2026.12"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	// Every original line is still there, in order.
	orig := strings.Split(strings.TrimSuffix(doc(), "\n"), "\n")
	pos := 0
	for _, l := range orig {
		i := strings.Index(s[pos:], l+"\n")
		if i < 0 {
			t.Fatalf("line %q lost or moved:\n%s", l, s)
		}
		pos += i + len(l)
	}
	// The new entry sits after the old one, before the TCB floor's comment.
	if !(strings.Index(s, "old-release") < strings.Index(s, "rel-2026.12") && strings.Index(s, "rel-2026.12") < strings.Index(s, "# TCB floor")) {
		t.Fatalf("entry misplaced:\n%s", s)
	}
	for _, want := range []string{"# release rel-2026.12 (cctest policy add-release): node type gcp-c3, VM size c3-standard-8",
		`description: kernel command line, text: console=ttyS0 ro}`} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q:\n%s", want, s)
		}
	}
	p, err := policy.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	m := p.TDX.AllowedMeasurements[1]
	if m.Name != "rel-2026.12" || len(m.Events) != 2 || m.RTMR2 == "" {
		t.Fatalf("entry %+v", m)
	}
	// Twice: refused.
	if _, err := AddToPolicy(out, tdxRecord("rel-2026.12")); err == nil || !strings.Contains(err.Error(), "already has an entry named") {
		t.Fatalf("duplicate name: %v", err)
	}
	if _, err := AddToPolicy(out, tdxRecord("other")); err == nil || !strings.Contains(err.Error(), `already allows these values as "rel-2026.12"`) {
		t.Fatalf("duplicate values: %v", err)
	}
}

func TestAddReleaseSNPAndFlowList(t *testing.T) {
	r := &Record{APIVersion: APIVersion, Kind: Kind, Version: Version, Name: "snp-new", TEE: "sev-snp",
		SNP: &SNP{Measurement: strings.Repeat("dd", 48), GuestPolicy: "0x30000", FamilyID: strings.Repeat("00", 16), ImageID: strings.Repeat("01", 16)}}
	out, err := AddToPolicy([]byte(doc()), r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "guest policy 0x30000") || !strings.HasSuffix(string(out), `measurement: "`+strings.Repeat("dd", 48)+"\"\n") {
		t.Fatalf("%s", out)
	}
}

func TestAddReleaseErrorsLeaveFileUntouched(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	noTDX := strings.Split(doc(), "tdx:\n")[0] + "snp:\n  allowedMeasurements:\n  - {name: s, measurement: \"" + strings.Repeat("bb", 48) + "\"}\n"
	for name, tc := range map[string]struct {
		doc  string
		rec  *Record
		want string
	}{
		"no tdx section": {noTDX, tdxRecord("x"), "has no tdx section"},
		"bad policy":     {"apiVersion: [", tdxRecord("x"), "does not load before the edit"},
		"bad record":     {doc(), &Record{Name: "x", TEE: "tdx"}, "release record"},
	} {
		if err := os.WriteFile(path, []byte(tc.doc), 0o600); err != nil {
			t.Fatal(err)
		}
		err := AddToPolicyFile(path, tc.rec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
		if got, _ := os.ReadFile(path); string(got) != tc.doc {
			t.Errorf("%s: file changed", name)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Errorf("%s: temporary files left: %v", name, ents)
		}
	}
	if err := os.WriteFile(path, []byte(doc()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := AddToPolicyFile(path, tdxRecord("ok")); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
}

func TestRecordRoundTripAndBadInput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	if err := tdxRecord("r").WriteFile(path); err != nil {
		t.Fatal(err)
	}
	r, err := LoadFile(path)
	if err != nil || r.Name != "r" || len(r.TDX.Events) != 2 {
		t.Fatalf("%v %+v", err, r)
	}
	data, _ := os.ReadFile(path)
	for name, in := range map[string]string{
		"not json":  "nope",
		"version":   strings.Replace(string(data), `"version": 1`, `"version": 9`, 1),
		"unknown":   strings.Replace(string(data), `"version": 1`, `"version": 1, "bogus": 2`, 1),
		"tampered":  strings.Replace(string(data), r.TDX.RTMR2, strings.Repeat("ee", 48), 1),
		"short hex": strings.Replace(string(data), r.TDX.MRTD, "cc", 1),
	} {
		if _, err := Load([]byte(in)); err == nil {
			t.Errorf("%s: loaded", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// add-release then remove-release: the release is allowed, then gone, and
// the person's comments survive both edits; an unknown name changes nothing.
func TestRemoveRelease(t *testing.T) {
	added, err := AddToPolicy([]byte(doc()), tdxRecord("rel-2026.12"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := RemoveFromPolicy(added, "rel-2026.12")
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if hasEntry(p, tdxRecord("rel-2026.12")) || strings.Contains(string(out), "rel-2026.12") {
		t.Errorf("the release is still allowed:\n%s", out)
	}
	for _, line := range strings.Split(commented, "\n") {
		if c := strings.TrimSpace(line); strings.HasPrefix(c, "#") && !strings.Contains(string(out), c) {
			t.Errorf("comment %q lost:\n%s", c, out)
		}
	}
	if _, err := RemoveFromPolicy(added, "no-such-release"); err == nil || !strings.Contains(err.Error(), `no allowlist entry is named "no-such-release"`) {
		t.Errorf("unknown name: %v", err)
	}
}
