package bundlecmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cctest/cctest/bundle"
	"github.com/cctest/cctest/internal/clitest"
	"github.com/cctest/cctest/internal/exitcode"
	"github.com/cctest/cctest/reports"
)

func execute(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return clitest.Execute(t, New(), args...)
}

func reportDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile("../../reports/testdata/tampered-quote.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, reports.JSONName), b, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := reports.Load(filepath.Join(dir, reports.JSONName))
	if err != nil {
		t.Fatal(err)
	}
	if err := reports.WriteBundle(dir, r); err != nil {
		t.Fatal(err)
	}
	return dir
}

func want(t *testing.T, out string, err error, code int, parts ...string) {
	t.Helper()
	if got := clitest.ExitCode(err); got != code {
		t.Fatalf("exit %d, want %d: %v\n%s", got, code, err, out)
	}
	all := out
	if err != nil {
		all += "\nerror: " + err.Error()
	}
	for _, p := range parts {
		if !strings.Contains(all, p) {
			t.Errorf("output does not say %q:\n%s", p, all)
		}
	}
}

func TestKeygenSignVerify(t *testing.T) {
	dir := reportDir(t)
	key := filepath.Join(t.TempDir(), "release.key")
	out, err := execute(t, "keygen", "--out", key, "--type", "ed25519")
	want(t, out, err, 0, "wrote "+key)
	out, err = execute(t, "keygen", "--out", key)
	want(t, out, err, exitcode.Usage, "exists")

	out, err = execute(t, "sign", "--key", key, dir)
	want(t, out, err, 0, bundle.FileName, "verdict FAIL")
	out, err = execute(t, "verify", "--key", key+".pub", dir)
	want(t, out, err, 0, "verified "+dir, "run verdict FAIL (13 failed, 9 passed)")

	junit := filepath.Join(dir, reports.JUnitName)
	b, _ := os.ReadFile(junit)
	b[10] ^= 0x20
	os.WriteFile(junit, b, 0o644)
	out, err = execute(t, "verify", "--key", key+".pub", dir)
	want(t, out, err, exitcode.Failed, "FAIL "+dir, "junit.xml: sha256 differs from the signed statement")
}

func TestUsage(t *testing.T) {
	dir := reportDir(t)
	key := filepath.Join(t.TempDir(), "k")
	if _, err := execute(t, "keygen", "--out", key); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{}, "give a bundle command"},
		{[]string{"frobnicate"}, "frobnicate"},
		{[]string{"keygen"}, "--out is required"},
		{[]string{"keygen", "--out", key + "2", "--type", "rsa"}, "unknown key type"},
		{[]string{"sign", dir}, "--key is required"},
		{[]string{"sign", "--key", key}, "give one report directory"},
		{[]string{"sign", "--key", key + ".pub", dir}, "is a public key"},
		{[]string{"sign", "--key", key, t.TempDir()}, "no bundle"},
		{[]string{"verify", "--key", key, dir}, "is a private key"},
		{[]string{"verify", "--key", key + ".pub", dir}, "not signed"},
		{[]string{"verify", "--key", key + ".pub", filepath.Join(dir, "nope")}, "no bundle"},
		{[]string{"verify", "--bogus"}, "unknown flag"},
	} {
		out, err := execute(t, c.args...)
		want(t, out, err, exitcode.Usage, c.says)
	}
}
