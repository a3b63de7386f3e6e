package policy

import (
	"strings"
	"testing"
)

func TestAzureSection(t *testing.T) {
	head := "apiVersion: cctest.dev/v1alpha1\nkind: AttestationPolicy\nname: az\n"
	snp := "snp:\n  allowedMeasurements:\n  - {name: hcl, measurement: \"" + strings.Repeat("ab", 48) + "\"}\n"
	p, err := Load([]byte(head + snp + "azure:\n  pcrs:\n  - {index: 7, sha256: \"" + strings.Repeat("cd", 32) + "\"}\n"))
	if err != nil || !p.AllowsTEE(AzureSNPTEE) || !p.AllowsTEE("sev-snp") {
		t.Fatalf("%v %v", err, p)
	}
	for doc, want := range map[string]string{
		head + "azure: {}\n": "azure: needs an snp section",
		head + snp + "azure:\n  pcrs:\n  - {index: 24, sha256: \"" + strings.Repeat("cd", 32) + "\"}\n": "azure.pcrs[0].index: must be 0-23",
		head + snp + "azure:\n  pcrs:\n  - {index: 1, sha256: \"cd\"}\n":                                "azure.pcrs[0].sha256: must be 32 bytes",
		head + snp + "azure:\n  pcr: []\n":                                                              "azure.pcr: unknown field",
	} {
		if _, err := Load([]byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", doc, err, want)
		}
	}
	if p, _ := Load([]byte(head + snp)); p.AllowsTEE(AzureSNPTEE) {
		t.Error("a policy without an azure section allows Azure evidence")
	}
}
