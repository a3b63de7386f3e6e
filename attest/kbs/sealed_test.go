package kbs

import (
	"strings"
	"testing"
)

func TestSealedSecretRoundTrip(t *testing.T) {
	v := Seal("cctest", "secret", "run-1")
	if !strings.HasPrefix(v, "sealed.fakejwsheader.") || !strings.HasSuffix(v, ".fakesignature") {
		t.Fatalf("sealed value %q", v)
	}
	repo, typ, tag, err := ParseSealed(v)
	if err != nil || repo != "cctest" || typ != "secret" || tag != "run-1" {
		t.Fatalf("ParseSealed = %q %q %q %v", repo, typ, tag, err)
	}
}

func TestParseSealedRefusesOthers(t *testing.T) {
	for _, v := range []string{"plain", "sealed.a.b", "sealed.h.!!!.s", "sealed.h.e30.s"} {
		if _, _, _, err := ParseSealed(v); err == nil {
			t.Errorf("ParseSealed(%q) accepted it", v)
		}
	}
}
