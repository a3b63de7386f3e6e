package reports

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// Names of the files in a bundle.
const (
	JSONName     = "report.json"
	JUnitName    = "junit.xml"
	HTMLName     = "report.html"
	ManifestName = "manifest.json"
	EvidenceDir  = "evidence"
	// AttestationName is the signed statement over the bundle (cctest
	// bundle sign). It covers manifest.json, so the manifest cannot list it.
	AttestationName = "attestation.dsse.json"
)

// tmpPrefix marks files being written; the manifest ignores them.
const tmpPrefix = ".cctest-tmp-"

// Manifest lists every file of a report directory with its sha256, so a
// bundle handed to someone else can be checked for completeness and edits.
type Manifest struct {
	Generator string         `json:"generator"`
	CreatedAt time.Time      `json:"createdAt"`
	Suite     string         `json:"suite"`
	Verdict   string         `json:"verdict"` // PASS or FAIL
	Files     []ManifestFile `json:"files"`
}

// ManifestFile is one file of the bundle.
type ManifestFile struct {
	Path   string `json:"path"` // slash-separated, relative to the bundle
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// WriteBundle writes the evidence bundle into dir: junit.xml, report.html,
// evidence/<subject>.json per evidence record, report.json if it is not
// there yet (cctest run has Ginkgo write it), and manifest.json with the
// sha256 of every file in dir (other files already there, e.g.
// platform.log, included). Each file is written to a
// temporary name and renamed, so a failure midway never truncates what is
// already there.
func WriteBundle(dir string, r types.Report, opts ...Option) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Render everything first: a rendering error writes nothing.
	var junit, page bytes.Buffer
	if err := WriteJUnit(&junit, r); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	if err := WriteHTML(&page, r, opts...); err != nil {
		return fmt.Errorf("html: %w", err)
	}
	evidence, err := evidenceFiles(r)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, JSONName)); errors.Is(err, os.ErrNotExist) {
		if err := WriteFileAtomic(filepath.Join(dir, JSONName), func(w io.Writer) error { return encodeJSONReport(w, r) }); err != nil {
			return err
		}
	}
	if err := WriteFileAtomic(filepath.Join(dir, JUnitName), bytesWriter(junit.Bytes())); err != nil {
		return err
	}
	if err := WriteFileAtomic(filepath.Join(dir, HTMLName), bytesWriter(page.Bytes())); err != nil {
		return err
	}
	if err := replaceEvidenceDir(dir, evidence); err != nil {
		return err
	}
	m, err := buildManifest(dir)
	if err != nil {
		return err
	}
	m.Suite = r.SuiteDescription
	m.Verdict = "FAIL"
	if Summarize(r).Pass {
		m.Verdict = "PASS"
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, ManifestName), bytesWriter(append(b, '\n')))
}

// encodeJSONReport writes the report the way Ginkgo does (an array).
func encodeJSONReport(w io.Writer, r types.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode([]types.Report{r})
}

func bytesWriter(b []byte) func(io.Writer) error {
	return func(w io.Writer) error { _, err := w.Write(b); return err }
}

// WriteFileAtomic writes through a temporary file in the same directory and
// renames it into place.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("write %s: it is a directory", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), tmpPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// evidenceFiles names one JSON file per evidence record:
// evidence/<subject>.json, with -2, -3... when a subject was attested twice.
func evidenceFiles(r types.Report) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, rec := range EvidenceRecords(r) {
		base := SafeFileName(rec.Subject)
		name := base + ".json"
		for i := 2; out[name] != nil; i++ {
			name = fmt.Sprintf("%s-%d.json", base, i)
		}
		b, err := json.MarshalIndent(rec, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("evidence of %s: %w", rec.Subject, err)
		}
		out[name] = append(b, '\n')
	}
	return out, nil
}

// SafeFileName turns a node or pod name into a file name: letters, digits,
// '.', '_' and '-' are kept, anything else (/, .., spaces, control
// characters) becomes '_'; never empty, never hidden, at most 100 bytes.
func SafeFileName(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 100 {
			break
		}
	}
	out := strings.TrimLeft(b.String(), ".")
	if out == "" {
		return "unnamed"
	}
	return out
}

// replaceEvidenceDir swaps in a complete new evidence/ directory, so stale
// evidence from an earlier run in the same directory does not linger.
func replaceEvidenceDir(dir string, files map[string][]byte) error {
	final := filepath.Join(dir, EvidenceDir)
	tmp, err := os.MkdirTemp(dir, tmpPrefix+EvidenceDir+"-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			return fmt.Errorf("write evidence %s: %w", name, err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	old := ""
	if _, err := os.Stat(final); err == nil {
		old = tmp + ".old"
		if err := os.Rename(final, old); err != nil {
			return fmt.Errorf("replace %s: %w", final, err)
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		if old != "" {
			os.Rename(old, final) // put the previous evidence back
		}
		return fmt.Errorf("replace %s: %w", final, err)
	}
	if old != "" {
		os.RemoveAll(old)
	}
	return nil
}

// buildManifest hashes every regular file under dir (the report
// directory holds nothing else: platform state lives outside it) except
// manifest.json and attestation.dsse.json, which cover it.
func buildManifest(dir string) (Manifest, error) {
	m := Manifest{Generator: "cctest report", CreatedAt: time.Now().UTC()}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		switch {
		case strings.HasPrefix(d.Name(), tmpPrefix):
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		case rel == ManifestName || rel == AttestationName || !d.Type().IsRegular():
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return fmt.Errorf("hash %s: %w", rel, err)
		}
		m.Files = append(m.Files, ManifestFile{Path: rel, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))})
		return nil
	})
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	return m, err
}

// CheckManifest re-hashes the files a bundle's manifest lists and returns
// one problem per missing, changed or unlisted file.
func CheckManifest(dir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, err
	}
	var want Manifest
	if err := json.Unmarshal(b, &want); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestName, err)
	}
	have, err := buildManifest(dir)
	if err != nil {
		return nil, err
	}
	got := map[string]ManifestFile{}
	for _, f := range have.Files {
		got[f.Path] = f
	}
	var problems []string
	for _, f := range want.Files {
		h, ok := got[f.Path]
		switch {
		case !ok:
			problems = append(problems, f.Path+": missing")
		case h.SHA256 != f.SHA256:
			problems = append(problems, f.Path+": sha256 differs from the manifest")
		}
		delete(got, f.Path)
	}
	for p := range got {
		problems = append(problems, p+": not in the manifest")
	}
	sort.Strings(problems)
	return problems, nil
}
