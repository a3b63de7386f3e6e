package reports

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func readManifest(t *testing.T, dir string) Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func paths(m Manifest) []string {
	var out []string
	for _, f := range m.Files {
		out = append(out, f.Path)
	}
	return out
}

// A report dir as cctest run leaves it: Ginkgo's report.json, the platform
// log and the embedded platform's state directory.
func runDir(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(filepath.Join(dir, JSONName), b, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "platform.log"), []byte("auto nodes: ...\n"), 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, "notes"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "notes", "extra.txt"), []byte("a file in a subdirectory"), 0o644))
	return dir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestWriteBundleOfARealRun(t *testing.T) {
	dir := runDir(t, "testdata/pass.json")
	orig, _ := os.ReadFile(filepath.Join(dir, JSONName))
	must(t, WriteBundle(dir, mustLoad(t, filepath.Join(dir, JSONName))))

	m := readManifest(t, dir)
	want := []string{
		"evidence/confidential-workers-cstbj.json", "evidence/confidential-workers-x4tj9.json",
		"evidence/snp-workers-42mls.json", "evidence/snp-workers-p8j78.json", "evidence/snp-workers-xxxzm.json",
		"junit.xml", "notes/extra.txt", "platform.log", "report.html", "report.json",
	}
	if strings.Join(paths(m), " ") != strings.Join(want, " ") {
		t.Errorf("manifest files:\n%q\nwant\n%q", paths(m), want)
	}
	if m.Verdict != "PASS" {
		t.Errorf("manifest: verdict %s", m.Verdict)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, JSONName)); string(now) != string(orig) {
		t.Error("report.json (Ginkgo's, the source of truth) was rewritten")
	}
	if p, err := CheckManifest(dir); err != nil || len(p) != 0 {
		t.Fatalf("fresh bundle: %v %q", err, p)
	}

	var rec EvidenceRecord
	b, _ := os.ReadFile(filepath.Join(dir, "evidence", "snp-workers-42mls.json"))
	must(t, json.Unmarshal(b, &rec))
	if rec.Subject != "snp-workers-42mls" || rec.Kind != "node" || !rec.Verdict.Pass || rec.Verdict.TEE != "sev-snp" || !strings.Contains(rec.Spec, "re-attested") {
		t.Errorf("evidence file: %+v", rec)
	}

	// The manifest catches edits, deletions and additions.
	must(t, os.WriteFile(filepath.Join(dir, "platform.log"), []byte("edited\n"), 0o644))
	must(t, os.Remove(filepath.Join(dir, "evidence", "snp-workers-p8j78.json")))
	must(t, os.WriteFile(filepath.Join(dir, "extra.txt"), nil, 0o644))
	p, err := CheckManifest(dir)
	must(t, err)
	wantP := []string{"evidence/snp-workers-p8j78.json: missing", "extra.txt: not in the manifest", "platform.log: sha256 differs from the manifest"}
	if strings.Join(p, "\n") != strings.Join(wantP, "\n") {
		t.Errorf("problems:\n%s", strings.Join(p, "\n"))
	}
}

func TestWriteBundleNamesEvidenceSafelyAndReplacesStaleEvidence(t *testing.T) {
	dir := t.TempDir()
	r := synthetic(8)
	must(t, WriteBundle(dir, r))
	ev, _ := os.ReadDir(filepath.Join(dir, EvidenceDir))
	var names []string
	for _, e := range ev {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	// tdx-0, tdx-4, snp-1, snp-5, and the hostile pod name twice.
	want := []string{"node__script_window.__pwned_1__script_-2.json", "node__script_window.__pwned_1__script_.json", "snp-1.json", "snp-5.json", "tdx-0.json", "tdx-4.json"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("evidence files %q", names)
	}
	if _, err := os.Stat(filepath.Join(dir, JSONName)); err != nil {
		t.Errorf("report.json not written into an empty dir: %v", err)
	}
	if m := readManifest(t, dir); m.Verdict != "FAIL" || len(m.Files) != 3+6 {
		t.Errorf("manifest %s %q", m.Verdict, paths(m))
	}

	// Re-bundling a run with less evidence leaves no stale files.
	r.SpecReports = r.SpecReports[:2]
	must(t, WriteBundle(dir, r))
	ev, _ = os.ReadDir(filepath.Join(dir, EvidenceDir))
	if len(ev) != 2 {
		t.Errorf("%d evidence files after re-bundling, want 2", len(ev))
	}
	if p, err := CheckManifest(dir); err != nil || len(p) != 0 {
		t.Fatalf("%v %q", err, p)
	}
	left, _ := filepath.Glob(filepath.Join(dir, tmpPrefix+"*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
}

// A write that fails midway keeps what was there and leaves no debris.
func TestWriteBundleFailureKeepsExistingFiles(t *testing.T) {
	dir := runDir(t, "testdata/tampered-quote.json")
	must(t, os.MkdirAll(filepath.Join(dir, EvidenceDir), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, EvidenceDir, "earlier.json"), []byte("{}"), 0o644))
	// report.html is a non-empty directory: the rename onto it fails after
	// junit.xml is written and before the evidence is replaced.
	must(t, os.MkdirAll(filepath.Join(dir, HTMLName, "x"), 0o755))
	err := WriteBundle(dir, mustLoad(t, filepath.Join(dir, JSONName)))
	if err == nil || !strings.Contains(err.Error(), HTMLName) {
		t.Fatalf("err = %v", err)
	}
	for name, want := range map[string]string{"platform.log": "auto nodes: ...\n", "evidence/earlier.json": "{}"} {
		if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != want {
			t.Errorf("%s changed to %q", name, b)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, JUnitName)); !strings.HasSuffix(string(b), "</testsuites>\n") {
		t.Errorf("junit.xml incomplete: %.60q", b)
	}
	left, _ := filepath.Glob(filepath.Join(dir, tmpPrefix+"*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
	if _, err := os.Stat(filepath.Join(dir, ManifestName)); err == nil {
		t.Error("a manifest was written for an incomplete bundle")
	}
}

func TestSafeFileName(t *testing.T) {
	for in, want := range map[string]string{
		"confidential-workers-cstbj": "confidential-workers-cstbj",
		"ns/pod":                     "ns_pod",
		"../../etc/passwd":           "_.._etc_passwd",
		"..":                         "unnamed",
		"":                           "unnamed",
		"a b\x00c\n":                 "a_b_c_",
		"ünïcode":                    "_n_code",
		strings.Repeat("x", 300):     strings.Repeat("x", 100),
	} {
		got := SafeFileName(in)
		if got != want || filepath.Base(got) != got || strings.HasPrefix(got, ".") {
			t.Errorf("SafeFileName(%q) = %q, want %q", in, got, want)
		}
	}
}

// The signature over a bundle (cctest bundle sign) covers manifest.json, so
// the manifest neither lists it nor calls it an unlisted file.
func TestManifestLeavesOutTheAttestation(t *testing.T) {
	dir := runDir(t, "testdata/pass.json")
	must(t, WriteBundle(dir, mustLoad(t, filepath.Join(dir, JSONName))))
	must(t, os.WriteFile(filepath.Join(dir, AttestationName), []byte("{}"), 0o644))
	if p, err := CheckManifest(dir); err != nil || len(p) != 0 {
		t.Fatalf("bundle with an attestation: %v %q", err, p)
	}
	must(t, WriteBundle(dir, mustLoad(t, filepath.Join(dir, JSONName))))
	for _, p := range paths(readManifest(t, dir)) {
		if p == AttestationName {
			t.Errorf("manifest lists %s", AttestationName)
		}
	}
}
