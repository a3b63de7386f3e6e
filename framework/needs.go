package framework

import (
	"fmt"
	"sort"
	"strings"
)

// Need is an input a spec cannot do without. The runner checks the needs of
// every planned spec before the first one runs, so a run stops at once with
// the list of what is missing instead of failing specs one by one.
type Need string

const (
	NeedPolicy       Need = "an attestation policy (--policy)"
	NeedHostAccess   Need = "host cluster access (--host-kubeconfig or --host-context)"
	NeedSharedTenant Need = "a shared-nodes tenant with RuntimeClass sync (--shared-tenant-kubeconfig or --shared-tenant-context)"
	NeedKBSAdmin     Need = "admin access to the tenant's Trustee KBS, to put the spec's secret (--kbs-url, --kbs-ca, --kbs-admin-key)"
)

// Lacks says whether the run is without what a need names.
func (r *Run) Lacks(n Need) bool {
	switch n {
	case NeedPolicy:
		return r.Policy == nil
	case NeedHostAccess:
		return r.Env == nil || r.Env.Host() == nil
	case NeedSharedTenant:
		return r.Env == nil || r.Env.SharedTenant() == nil
	case NeedKBSAdmin:
		return r.KBS == nil || r.KBS.URL == "" || r.KBS.AdminKey == nil
	}
	return false
}

// Unmet maps each need the run lacks to the planned specs that need it.
func (r *Run) Unmet(planned []string) map[Need][]string {
	out := map[Need][]string{}
	for _, name := range planned {
		s, ok := Lookup(name)
		if !ok {
			continue
		}
		for _, n := range s.Needs {
			if r.Lacks(n) {
				out[n] = append(out[n], name)
			}
		}
	}
	return out
}

// MissingMessage is the one message a run stops with.
func MissingMessage(unmet map[Need][]string) string {
	needs := make([]string, 0, len(unmet))
	for n := range unmet {
		needs = append(needs, string(n))
	}
	sort.Strings(needs)
	var b strings.Builder
	b.WriteString("this run lacks what planned specs need; nothing was run:\n")
	for _, n := range needs {
		fmt.Fprintf(&b, "  %s, needed by:\n", n)
		for _, s := range unmet[Need(n)] {
			fmt.Fprintf(&b, "    - %s\n", s)
		}
	}
	b.WriteString("give what is missing, leave those specs out (--label-filter / --skip), or run them as skips with --allow-missing")
	return b.String()
}

// Lookup finds a declared spec by name.
func Lookup(name string) (*Spec, bool) {
	specMu.Lock()
	defer specMu.Unlock()
	s, ok := specs[name]
	return s, ok
}
