package faults

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	s, err := Parse(DebugTD, " ", EgressDenied)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Has(DebugTD) || !s.Has(EgressDenied) || s.Has(TamperedQuote) {
		t.Fatalf("set = %v", s)
	}
	if got := strings.Join(s.Names(), ","); got != "debug-td,egress-denied" {
		t.Fatalf("names = %s", got)
	}
	_, err = Parse("debug-tdx")
	if err == nil || !strings.Contains(err.Error(), `unknown fault "debug-tdx"`) || !strings.Contains(err.Error(), DebugTD) {
		t.Fatalf("err = %v", err)
	}
	var none Set
	if none.Has(DebugTD) {
		t.Fatal("nil set has a fault")
	}
}

func TestCatalogueIsUniqueAndDescribed(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range All() {
		if seen[f.Name] || f.Description == "" || f.Component == "" {
			t.Errorf("fault %+v duplicated or undocumented", f)
		}
		seen[f.Name] = true
	}
	if len(seen) < 20 {
		t.Errorf("catalogue has %d faults, want the 20 the platform and node issues name", len(seen))
	}
}
