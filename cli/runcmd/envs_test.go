package runcmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cctest/cctest/api/teename"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/fixtures"
	"github.com/cctest/cctest/internal/testpolicy"
	"github.com/cctest/cctest/reports"
)

func TestResolveEnv(t *testing.T) {
	for _, c := range []struct {
		o       Options
		want    string
		wantErr string
	}{
		{Options{}, EnvEmbedded, ""},
		{Options{Kubeconfig: "k"}, EnvExisting, ""},
		{Options{Env: "existing"}, "", "--env existing needs --kubeconfig"},
		{Options{Env: "kind", Kubeconfig: "k"}, "", "--env kind creates its own cluster"},
		{Options{Env: "embedded", Kubeconfig: "k"}, "", "--env embedded starts its own platform"},
		{Options{Env: "docker"}, "", `--env "docker": want embedded, existing or kind`},
		{Options{TEE: "tdx"}, "", "--tee is hardware qualification of a real tenant: it needs --env existing"},
		{Options{Env: "existing", Kubeconfig: "k", TEE: "tdx"}, "", "--tee needs --path: cvm when the node VM is the TEE"},
		{Options{Env: "existing", Kubeconfig: "k", TEE: "tdx", Path: "pod"}, EnvExisting, ""},
		{Options{Path: "vm"}, "", `--path "vm": want cvm (the node VM is the TEE) or pod`},
		{Options{Path: "cvm"}, EnvEmbedded, ""},
	} {
		got, err := resolveEnv(c.o)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%+v: err %v, want %q", c.o, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%+v: %q, %v; want %q", c.o, got, err, c.want)
		}
	}
}

func TestHardwareNeedsVendorRoots(t *testing.T) {
	if _, err := hardwareTEEs("tdx", testpolicy.Load(t, "tdx-simulated.yaml")); err == nil || !strings.Contains(err.Error(), "vendor roots only") {
		t.Errorf("a simulated-roots policy was accepted for a hardware run: %v", err)
	}
	if _, err := hardwareTEEs("tdx", nil); err == nil || !strings.Contains(err.Error(), "--tee needs --policy") {
		t.Errorf("no policy: %v", err)
	}
	if _, err := hardwareTEEs("sgx", nil); err == nil || !strings.Contains(err.Error(), `--tee "sgx"`) {
		t.Errorf("unknown TEE: %v", err)
	}
	b, err := fixtures.Read("negative/policy-mrtd-only.yaml")
	if err != nil {
		t.Fatal(err)
	}
	weak, err := policy.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hardwareTEEs("tdx", weak); err == nil || !strings.Contains(err.Error(), `policy "mrtd-only" is weak, a hardware run refuses it`) ||
		!strings.Contains(err.Error(), "leaves RTMR0, RTMR1, RTMR2 open") {
		t.Errorf("a weak policy was accepted for a hardware run: %v", err)
	}
	tees, err := hardwareTEEs("snp", testpolicy.Load(t, "snp-hardware.yaml"))
	if err != nil || len(tees) != 1 || tees[0] != teename.SNP {
		t.Errorf("snp with the vendor-roots policy: %v, %v", tees, err)
	}
}

func TestTEELabelFilter(t *testing.T) {
	if got := teeLabelFilter("", []string{"tdx", "sev-snp"}); got != "" {
		t.Errorf("both TEEs: filter %q, want none", got)
	}
	if got, want := teeLabelFilter("", []string{"tdx"}), "(!tee:snp || tee:tdx)"; got != want {
		t.Errorf("tdx: %q, want %q", got, want)
	}
	if got, want := teeLabelFilter("attestation", []string{"sev-snp"}), "(attestation) && (!tee:tdx || tee:snp)"; got != want {
		t.Errorf("snp with a user filter: %q, want %q", got, want)
	}
}

func TestPathLabelFilter(t *testing.T) {
	for _, c := range []struct{ user, path, want string }{
		{"", "", ""},
		{"egress", "", "egress"},
		{"", "cvm", "!path:pod"},
		{"", "pod", "!path:cvm"},
		{"attestation || egress", "pod", "(attestation || egress) && !path:cvm"},
	} {
		if got := pathLabelFilter(c.user, c.path); got != c.want {
			t.Errorf("pathLabelFilter(%q, %q) = %q, want %q", c.user, c.path, got, c.want)
		}
	}
}

// A hardware run fails on a skipped TEE spec and on simulated evidence.
func TestHardwareProblems(t *testing.T) {
	skipped := types.SpecReport{LeafNodeType: types.NodeTypeIt, State: types.SpecStateSkipped, LeafNodeText: "re-attest",
		LeafNodeLabels: []string{"attestation", "tee:tdx"}}
	passed := types.SpecReport{LeafNodeType: types.NodeTypeIt, State: types.SpecStatePassed, LeafNodeText: "reattest",
		ReportEntries: types.ReportEntries{{Name: reports.EvidenceEntry, Value: types.WrapEntryValue(reports.Evidence{
			Subject: "node-1", Kind: "node", TEE: "tdx", Verdict: verifier.Verdict{Pass: true, Simulated: true, TrustRoot: "cctest simulated Intel SGX Root CA (TEST ONLY)"}})}}}
	probs := hardwareProblems(types.Report{SpecReports: types.SpecReports{skipped, passed}}, []string{"tdx"}, "")
	joined := strings.Join(probs, "\n")
	if !strings.Contains(joined, "hardware spec skipped: re-attest") || !strings.Contains(joined, "node node-1 chains to a test root") {
		t.Errorf("problems: %v", probs)
	}
	clean := types.SpecReport{LeafNodeType: types.NodeTypeIt, State: types.SpecStatePassed, LeafNodeLabels: []string{"tee:tdx"}}
	if p := hardwareProblems(types.Report{SpecReports: types.SpecReports{clean}}, []string{"tdx"}, ""); len(p) != 0 {
		t.Errorf("a clean run has problems: %v", p)
	}
	// --path pod leaves the CVM specs out: not a skip the run must explain.
	cvm := types.SpecReport{LeafNodeType: types.NodeTypeIt, State: types.SpecStateSkipped, LeafNodeText: "gate traces",
		LeafNodeLabels: []string{"tee:tdx", "path:cvm"}}
	if p := hardwareProblems(types.Report{SpecReports: types.SpecReports{cvm}}, []string{"tdx"}, "pod"); len(p) != 0 {
		t.Errorf("a CVM spec left out by --path pod is a problem: %v", p)
	}
	if p := hardwareProblems(types.Report{SpecReports: types.SpecReports{cvm}}, []string{"tdx"}, "cvm"); len(p) != 1 {
		t.Errorf("a skipped CVM spec in a --path cvm run: %v", p)
	}
}

// kubectl's convention, for --env existing only: $KUBECONFIG's first file,
// then ~/.kube/config; --kubeconfig wins; the embedded default never
// turns into an existing run because KUBECONFIG is set.
func TestDefaultKubeconfig(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("KUBECONFIG", "/a/first"+string(filepath.ListSeparator)+"/b/second")
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Env: EnvExisting}, "/a/first"},
		{Options{Env: EnvExisting, Kubeconfig: "/given"}, "/given"},
		{Options{}, ""},
		{Options{Env: EnvKind}, ""},
	} {
		o := c.o
		defaultKubeconfig(&o)
		if o.Kubeconfig != c.want {
			t.Errorf("%+v: kubeconfig %q, want %q", c.o, o.Kubeconfig, c.want)
		}
	}
	t.Setenv("KUBECONFIG", "")
	o := Options{Env: EnvExisting}
	if defaultKubeconfig(&o); o.Kubeconfig != "" {
		t.Errorf("no KUBECONFIG and no ~/.kube/config: %q", o.Kubeconfig)
	}
	cfg := filepath.Join(home, ".kube", "config")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if defaultKubeconfig(&o); o.Kubeconfig != cfg {
		t.Errorf("~/.kube/config not used: %q", o.Kubeconfig)
	}
}
