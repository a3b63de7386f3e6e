package main

import "testing"

func TestProfileName(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"cctest"}, "cctest"},
		{[]string{"cctest", "run", "--report-dir", "x"}, "cctest-run"},
		{[]string{"cctest", "__controlplane", "--name", "tenant", "--dir", "d"}, "controlplane-tenant"},
	} {
		if got := profileName(c.args); got != c.want {
			t.Errorf("profileName(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}
