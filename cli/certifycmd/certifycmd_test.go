package certifycmd

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/cctest/cctest/internal/exitcode"

	"github.com/cctest/cctest/internal/clitest"
)

const fx = "../../fixtures/"

func execute(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return clitest.Execute(t, New(), args...)
}

var exitCode = clitest.ExitCode

func referenceArgs(vcluster string) []string {
	return []string{
		"--node-provider", fx + "reference/node-provider.yaml",
		"--vcluster", fx + vcluster,
		"--runtime-class", fx + "reference/runtimeclass.yaml",
		"--workload", fx + "reference/workload.yaml",
		"--network-policy", fx + "reference/network-policies.yaml",
		"--policy", fx + "reference/attestation-policy.yaml",
	}
}

func TestPassExitsZeroWithTable(t *testing.T) {
	out, err := execute(t, referenceArgs("reference/vcluster-private-nodes.yaml")...)
	if err != nil {
		t.Fatalf("err = %v\n%s", err, out)
	}
	if !strings.Contains(out, "0 error(s), 0 warning(s)") {
		t.Fatalf("output:\n%s", out)
	}
}

func TestSeedReferenceWarnsButPasses(t *testing.T) {
	out, err := execute(t, referenceArgs("reference/vcluster.yaml")...)
	if err != nil {
		t.Fatalf("err = %v\n%s", err, out)
	}
	for _, want := range []string{"CC032", "CC033", "CC037", "0 error(s), 3 warning(s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

func TestFailureExitsOneWithJSONAndJUnit(t *testing.T) {
	junit := filepath.Join(t.TempDir(), "certify.xml")
	args := append(referenceArgs("negative/vcluster-notexists-operator.yaml"), "-o", "json", "--junit", junit)
	out, err := execute(t, args...)
	if exitCode(err) != exitcode.Failed {
		t.Fatalf("exit = %d (%v)", exitCode(err), err)
	}
	var rep struct {
		Findings []struct{ ID, Severity, File, Path, Message, Fix string }
		Errors   int
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	found := false
	for _, f := range rep.Findings {
		if f.ID == "CC011" && f.Severity == "error" && strings.Contains(f.Path, "nodeTypeSelector[1].operator") && strings.Contains(f.Message, "NotExists") {
			found = true
		}
	}
	if !found || rep.Errors == 0 {
		t.Fatalf("no CC011 error in %s", out)
	}
	data, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Cases    []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &suites); err != nil {
		t.Fatalf("bad JUnit: %v\n%s", err, data)
	}
	s := suites.Suites[0]
	if s.Failures == 0 || s.Tests < 20 {
		t.Fatalf("junit suite = %+v", s)
	}
	for _, c := range s.Cases {
		if strings.HasPrefix(c.Name, "CC011") && c.Failure == nil {
			t.Fatal("CC011 test case did not fail")
		}
	}
}

func TestUsageErrors(t *testing.T) {
	if _, err := execute(t, "--vcluster", fx+"reference/vcluster.yaml"); exitCode(err) != exitcode.Usage {
		t.Fatalf("missing --node-provider: exit %d (%v)", exitCode(err), err)
	}
	args := append(referenceArgs("reference/vcluster.yaml"), "-o", "yaml")
	if _, err := execute(t, args...); exitCode(err) != exitcode.Usage {
		t.Fatalf("bad -o: exit %d", exitCode(err))
	}
	args = append(referenceArgs("reference/vcluster.yaml"), "--attestation-service", "nowhere")
	if _, err := execute(t, args...); exitCode(err) != exitcode.Usage || !strings.Contains(err.Error(), "NAMESPACE/NAME:PORT") {
		t.Fatalf("bad --attestation-service: %v", err)
	}
	args = append(referenceArgs("reference/vcluster.yaml"), "--vcluster-version", "0.30.0")
	if _, err := execute(t, args...); exitCode(err) != exitcode.Usage || !strings.Contains(err.Error(), "cctest knows 0.36.1, main") {
		t.Fatalf("unknown --vcluster-version: exit %d (%v)", exitCode(err), err)
	}
	out, err := execute(t, "--node-provider", "/nonexistent.yaml", "--vcluster", fx+"reference/vcluster.yaml")
	if exitCode(err) != exitcode.Failed || !strings.Contains(out, "cannot read") {
		t.Fatalf("missing file: exit %d\n%s", exitCode(err), out)
	}
}

// Pool-level properties: refused for the default version, naming the field
// and the version; accepted for main.
func TestVClusterVersion(t *testing.T) {
	args := referenceArgs("negative/vcluster-pool-properties.yaml")
	out, err := execute(t, args...)
	if exitCode(err) != exitcode.Failed || !strings.Contains(out, "privateNodes.autoNodes[0].dynamic[0].properties") || !strings.Contains(out, "not in vCluster 0.36.1") {
		t.Fatalf("0.36.1: exit %d\n%s", exitCode(err), out)
	}
	if out, err := execute(t, append(args, "--vcluster-version", "main")...); err != nil || strings.Contains(out, "CC004") {
		t.Fatalf("main: %v\n%s", err, out)
	}
}

func TestHelpListsChecks(t *testing.T) {
	out, err := execute(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CC001", "CC060", "--attestation-service", "--vcluster-version", "cctest.dev/on-host-maintenance", "Examples:"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

// Findings read like a compiler's: "file:line: error CCnnn: message", the
// path and hint indented below; no line is padded to the longest message.
func TestTextIsCompilerStyle(t *testing.T) {
	out, err := execute(t, referenceArgs("negative/vcluster-notexists-operator.yaml")...)
	if exitCode(err) != exitcode.Failed {
		t.Fatalf("exit = %d (%v)", exitCode(err), err)
	}
	head := regexp.MustCompile(`(?m)^\S*vcluster-notexists-operator\.yaml:\d+: error CC011: .*NotExists.*\n    at .*operator\n    hint: `)
	if !head.MatchString(out) {
		t.Fatalf("no compiler-style CC011 finding in:\n%s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasSuffix(l, "  ") {
			t.Errorf("padded line %q", l)
		}
	}
}

// JSON field names are all lowerCamel, checks and findings alike.
func TestJSONNamesAreConsistent(t *testing.T) {
	out, _ := execute(t, append(referenceArgs("reference/vcluster.yaml"), "-o", "json")...)
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if k == "" || unicode.IsUpper(rune(k[0])) {
					t.Errorf("%s: field %q is not lowerCamel", at, k)
				}
				walk(at+"."+k, c)
			}
		case []any:
			for _, c := range v {
				walk(at+"[]", c)
			}
		}
	}
	walk("$", rep)
}

func TestSARIFOutput(t *testing.T) {
	out, err := execute(t, append(referenceArgs("negative/vcluster-notexists-operator.yaml"), "-o", "sarif")...)
	if exitCode(err) != exitcode.Failed {
		t.Fatalf("exit = %d (%v)", exitCode(err), err)
	}
	var log struct {
		Version string
		Runs    []struct{ Results []struct{ RuleID string } }
	}
	if err := json.Unmarshal([]byte(out), &log); err != nil || log.Version != "2.1.0" || len(log.Runs) != 1 || len(log.Runs[0].Results) == 0 {
		t.Fatalf("not a SARIF 2.1.0 log with results (%v):\n%s", err, out)
	}
}
