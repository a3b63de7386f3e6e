package faultscmd

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cctest/cctest/faults"
)

func TestListsEveryFault(t *testing.T) {
	var out bytes.Buffer
	cmd := New()
	cmd.SetOut(&out)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, f := range faults.All() {
		if !strings.Contains(out.String(), f.Name) || !strings.Contains(out.String(), f.Description) {
			t.Errorf("fault %s missing from the listing", f.Name)
		}
	}
}
