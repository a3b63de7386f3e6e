package certify

import "strings"

// checkTenancy (CC060): a tenant on shared nodes, or a confidential node type
// selected by pools of several tenants, is a warning: the strongest
// isolation is one tenant per private node.
func (r *run) checkTenancy() {
	users := map[*nodeType][]string{}
	for _, vf := range r.vcs {
		if !vf.Values.PrivateNodesEnabled() {
			path := "privateNodes.enabled"
			r.add(CheckTenancy, SeverityWarning, vf.File, path, lineOr(vf.Line(path), 1),
				"the tenant runs on shared host nodes (privateNodes.enabled is not true): its confidential pods share nodes with other tenants' pods")
			continue
		}
		seen := map[*nodeType]bool{}
		for _, pool := range vf.Values.Pools() {
			matched, _ := r.matchPool(pool)
			for _, t := range matched {
				if t.confidential() && !seen[t] {
					seen[t] = true
					users[t] = append(users[t], vf.File)
				}
			}
		}
	}
	for t, tenants := range users {
		if len(tenants) < 2 {
			continue
		}
		file, path, line := t.at("")
		r.add(CheckTenancy, SeverityWarning, file, path, line,
			"confidential node type %q is selected by %d tenants (%s); make sure each node serves one tenant, or give each tenant its own node type",
			t.def.Name, len(tenants), strings.Join(tenants, ", "))
	}
}
