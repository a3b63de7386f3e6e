package gatetrace

import (
	"strings"
	"testing"

	"github.com/cctest/cctest/attest/verifier"
)

func TestRoundTrip(t *testing.T) {
	ev := verifier.Evidence{TEE: "tdx", Raw: []byte{1, 2, 3}}
	tr, err := New("node-a", []byte{0xab, 0xcd}, ev, verifier.Verdict{TEE: "tdx", Pass: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := tr.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	if got.Node() != "node-a" || !got.Pass || got.Nonce != "abcd" || !strings.HasPrefix(got.VerdictDigest, "sha256:") {
		t.Errorf("round trip: %+v", got)
	}
	want := verifier.BindReportData([]byte{0xab, 0xcd}, "node-join:node-a")
	if rd, err := got.ReportData(); err != nil || rd != want {
		t.Errorf("report data %x, %v; want %x", rd, err, want)
	}
}

func TestDecodeNamesTheProblem(t *testing.T) {
	for in, want := range map[string]string{
		"":                                       "empty",
		"{":                                      "not JSON",
		`{"context":"x","nonce":"ab"}`:           "does not start with",
		`{"context":"node-join:a","nonce":"zz"}`: "not hex",
		`{"context":"node-join:a","nonce":"ab"}`: "no evidence",
	} {
		if _, err := Decode(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Decode(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}
