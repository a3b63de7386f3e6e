package bundle

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/cctest/cctest/attest/verifier"

	"github.com/cctest/cctest/reports"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// reportDir is a report directory as cctest run leaves it, from a recorded
// run (reports/testdata), with its bundle and manifest.
func reportDir(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(src)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, reports.JSONName), b, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "platform.log"), []byte("auto nodes: ...\n"), 0o644))
	r, err := reports.Load(filepath.Join(dir, reports.JSONName))
	must(t, err)
	must(t, reports.WriteBundle(dir, r))
	return dir
}

func keyPair(t *testing.T, typ string) (priv, pub string) {
	t.Helper()
	priv = filepath.Join(t.TempDir(), "key")
	must(t, WriteKeyPair(priv, typ))
	return priv, priv + ".pub"
}

func signed(t *testing.T, typ string) (dir, pub string) {
	t.Helper()
	dir = reportDir(t, "../reports/testdata/pass.json")
	priv, pub := keyPair(t, typ)
	k, err := LoadPrivateKey(priv)
	must(t, err)
	if _, err := Sign(dir, k); err != nil {
		t.Fatal(err)
	}
	return dir, pub
}

func verify(t *testing.T, dir, pub string) Verified {
	t.Helper()
	k, err := LoadPublicKey(pub)
	must(t, err)
	v, err := Verify(dir, k)
	must(t, err)
	return v
}

// wantProblem fails unless exactly one problem was found and it contains
// every one of parts.
func wantProblem(t *testing.T, v Verified, parts ...string) {
	t.Helper()
	if len(v.Problems) != 1 {
		t.Fatalf("problems %q, want one naming %q", v.Problems, parts)
	}
	for _, p := range parts {
		if !strings.Contains(v.Problems[0], p) {
			t.Errorf("problem %q does not say %q", v.Problems[0], p)
		}
	}
}

func TestSignedBundleVerifies(t *testing.T) {
	for _, typ := range []string{KeyECDSA, KeyEd25519} {
		t.Run(typ, func(t *testing.T) {
			dir, pub := signed(t, typ)
			v := verify(t, dir, pub)
			if len(v.Problems) != 0 {
				t.Fatalf("fresh signed bundle: %q", v.Problems)
			}
			// every file of the manifest, and the manifest
			if v.Subjects != 10 {
				t.Errorf("%d subjects, want 10", v.Subjects)
			}
			p := v.Predicate
			if p.Verdict.Result != "PASS" || p.Verdict.Counts["passed"] == 0 || p.Verdict.Specs == 0 {
				t.Errorf("verdict %+v", p.Verdict)
			}
			// The recorded run has no environment entry and no node types
			// on its evidence (TestPredicate covers those): its five nodes
			// are one group with the two measurements they reported.
			if len(p.NodeTypes) != 1 || len(p.NodeTypes[0].Nodes) != 5 || len(p.NodeTypes[0].Measurements) != 2 || !p.NodeTypes[0].Pass {
				t.Errorf("node types %+v", p.NodeTypes)
			}
			// the manifest does not list the attestation, and still checks out
			if p, err := reports.CheckManifest(dir); err != nil || len(p) != 0 {
				t.Errorf("manifest after signing: %v %q", err, p)
			}
		})
	}
}

func TestChangedFileIsNamed(t *testing.T) {
	dir, pub := signed(t, KeyECDSA)
	path := filepath.Join(dir, reports.JUnitName)
	b, err := os.ReadFile(path)
	must(t, err)
	b[len(b)/2] ^= 1
	must(t, os.WriteFile(path, b, 0o644))
	wantProblem(t, verify(t, dir, pub), "junit.xml", "sha256 differs")
}

func TestExtraFileIsNamed(t *testing.T) {
	dir, pub := signed(t, KeyECDSA)
	must(t, os.WriteFile(filepath.Join(dir, "evidence", "extra.json"), []byte("{}"), 0o644))
	wantProblem(t, verify(t, dir, pub), "evidence/extra.json", "not in the signed statement")
}

func TestMissingFileIsNamed(t *testing.T) {
	dir, pub := signed(t, KeyECDSA)
	must(t, os.Remove(filepath.Join(dir, "platform.log")))
	wantProblem(t, verify(t, dir, pub), "platform.log", "missing")
}

func TestSymlinkIsNamed(t *testing.T) {
	dir, pub := signed(t, KeyECDSA)
	must(t, os.Symlink("/etc/hostname", filepath.Join(dir, "link")))
	wantProblem(t, verify(t, dir, pub), "link", "not a regular file")
}

func TestWrongKeyFails(t *testing.T) {
	for _, typ := range []string{KeyECDSA, KeyEd25519} {
		dir, _ := signed(t, KeyECDSA)
		_, other := keyPair(t, typ)
		wantProblem(t, verify(t, dir, other), FileName, "does not verify")
	}
}

func TestTamperedPayloadFails(t *testing.T) {
	dir, pub := signed(t, KeyECDSA)
	path := filepath.Join(dir, FileName)
	b, err := os.ReadFile(path)
	must(t, err)
	var env dsse.Envelope
	must(t, json.Unmarshal(b, &env))
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	must(t, err)
	if !bytes.Contains(payload, []byte(`"PASS"`)) {
		t.Fatalf("payload has no PASS verdict: %s", payload)
	}
	env.Payload = base64.StdEncoding.EncodeToString(bytes.Replace(payload, []byte(`"PASS"`), []byte(`"FAIL"`), 1))
	b, err = json.Marshal(env)
	must(t, err)
	must(t, os.WriteFile(path, b, 0o644))
	wantProblem(t, verify(t, dir, pub), FileName, "does not verify")

	must(t, os.WriteFile(path, []byte("not json"), 0o644))
	wantProblem(t, verify(t, dir, pub), FileName, "not a DSSE envelope")
}

func TestSignRefusesAChangedBundle(t *testing.T) {
	dir := reportDir(t, "../reports/testdata/pass.json")
	must(t, os.WriteFile(filepath.Join(dir, "late.txt"), []byte("x"), 0o644))
	priv, _ := keyPair(t, KeyECDSA)
	k, err := LoadPrivateKey(priv)
	must(t, err)
	_, err = Sign(dir, k)
	if err == nil || IsUsage(err) || !strings.Contains(err.Error(), "late.txt: not in the manifest") {
		t.Fatalf("sign of a bundle with an unlisted file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); err == nil {
		t.Error("wrote an attestation anyway")
	}
}

func TestUsageErrors(t *testing.T) {
	priv, pub := keyPair(t, KeyEd25519)
	k, err := LoadPublicKey(pub)
	must(t, err)
	sk, err := LoadPrivateKey(priv)
	must(t, err)
	empty := t.TempDir()
	garbage := filepath.Join(empty, "garbage")
	must(t, os.WriteFile(garbage, []byte("not a key"), 0o644))
	for name, f := range map[string]func() error{
		"verify, no dir":        func() error { _, err := Verify(filepath.Join(empty, "nope"), k); return err },
		"verify, not signed":    func() error { _, err := Verify(reportDir(t, "../reports/testdata/pass.json"), k); return err },
		"sign, no manifest":     func() error { _, err := Sign(empty, sk); return err },
		"public key as private": func() error { _, err := LoadPrivateKey(pub); return err },
		"private key as public": func() error { _, err := LoadPublicKey(priv); return err },
		"garbage key":           func() error { _, err := LoadPublicKey(garbage); return err },
		"missing key":           func() error { _, err := LoadPrivateKey(filepath.Join(empty, "nope")); return err },
		"directory as key":      func() error { _, err := LoadPrivateKey(empty); return err },
		"unknown key type":      func() error { return WriteKeyPair(filepath.Join(empty, "k"), "rsa") },
	} {
		err := f()
		if !IsUsage(err) {
			t.Errorf("%s: %v, want a usage error", name, err)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

func TestKeygen(t *testing.T) {
	priv, pub := keyPair(t, "")
	fi, err := os.Stat(priv)
	must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(priv)
	if !strings.HasPrefix(string(b), "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("private key:\n%s", b)
	}
	p, _ := os.ReadFile(pub)
	if !strings.HasPrefix(string(p), "-----BEGIN PUBLIC KEY-----") {
		t.Errorf("public key:\n%s", p)
	}
	// never overwrites, either file
	err = WriteKeyPair(priv, KeyEd25519)
	if !IsUsage(err) || !strings.Contains(err.Error(), "exists") {
		t.Errorf("keygen over an existing key: %v", err)
	}
	if now, _ := os.ReadFile(priv); !bytes.Equal(now, b) {
		t.Error("existing private key changed")
	}
	other := filepath.Join(t.TempDir(), "k")
	must(t, os.WriteFile(other+".pub", []byte("keep me"), 0o644))
	if err := WriteKeyPair(other, ""); !IsUsage(err) {
		t.Errorf("keygen over an existing .pub: %v", err)
	}
	if _, err := os.Stat(other); err == nil {
		t.Error("wrote the private key although the .pub exists")
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(priv), ".cctest-tmp-*")); len(left) > 0 {
		t.Errorf("temporary files left: %q", left)
	}
}

func TestPredicate(t *testing.T) {
	entry := func(name string, v any) types.ReportEntry {
		return types.ReportEntry{Name: name, Value: types.WrapEntryValue(v)}
	}
	ev := func(node, nodeType, m string, pass bool) types.ReportEntry {
		return entry(reports.EvidenceEntry, reports.Evidence{Subject: node, Kind: "node", NodeType: nodeType, TEE: "tdx",
			Verdict: verifier.Verdict{TEE: "tdx", Pass: pass, Measurement: m, Checks: []verifier.Check{}}})
	}
	env := reports.Environment{Kind: "existing", PolicyName: "prod", PolicyYAML: "tdx: {}\n"}
	r := types.Report{SuiteDescription: "cctest", SuiteSucceeded: true, PreRunStats: types.PreRunStats{SpecsThatWillRun: 1},
		SpecReports: types.SpecReports{
			{LeafNodeType: types.NodeTypeBeforeSuite, State: types.SpecStatePassed, ReportEntries: types.ReportEntries{entry(reports.EnvironmentEntry, env)}},
			{LeafNodeType: types.NodeTypeIt, LeafNodeText: "attests", State: types.SpecStatePassed, ReportEntries: types.ReportEntries{
				ev("b-1", "tdx-b", "bb", false), ev("a-1", "tdx-a", "aa", true), ev("a-2", "tdx-a", "aa", true),
				entry(reports.EvidenceEntry, reports.Evidence{Subject: "pod-1", Kind: "pod", Verdict: verifier.Verdict{Pass: true, Checks: []verifier.Check{}}}),
			}},
		}}
	p := predicateOf(r, reports.Manifest{})
	if p.Verdict.Result != "PASS" || p.Verdict.Counts["passed"] != 1 {
		t.Errorf("verdict %+v", p.Verdict)
	}
	if p.Environment == nil || p.Environment.Kind != "existing" {
		t.Errorf("environment %+v", p.Environment)
	}
	// sha256 of "tdx: {}\n"
	if p.Policy == nil || p.Policy.Name != "prod" || len(p.Policy.Digest["sha256"]) != 64 {
		t.Errorf("policy %+v", p.Policy)
	}
	if len(p.NodeTypes) != 2 {
		t.Fatalf("node types %+v (pods are not node types)", p.NodeTypes)
	}
	a, b := p.NodeTypes[0], p.NodeTypes[1]
	if a.Name != "tdx-a" || !a.Pass || len(a.Nodes) != 2 || strings.Join(a.Measurements, ",") != "aa" {
		t.Errorf("tdx-a: %+v", a)
	}
	if b.Name != "tdx-b" || b.Pass || len(b.Nodes) != 1 || strings.Join(b.Measurements, ",") != "bb" {
		t.Errorf("tdx-b: %+v", b)
	}
}
