package certify

import (
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmtv1 "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/config"
)

// checkAutoNodes: provider exists (CC015), private nodes on (CC016), every
// selector matches a node type (CC020), the containerd/Kata join hazard (CC037).
func (r *run) checkAutoNodes() {
	for _, vf := range r.vcs {
		v := &vf.Values
		pools := v.Pools()
		if len(pools) > 0 && !v.PrivateNodesEnabled() {
			r.add(CheckPrivateNodesOn, SeverityWarning, vf.File, "privateNodes.enabled", vf.Line("privateNodes.enabled"),
				"autoNodes are configured but privateNodes.enabled is not true: no auto nodes will be provisioned")
		}
		if v.PrivateNodes != nil {
			for i, an := range v.PrivateNodes.AutoNodes {
				if an.Provider == "" {
					continue
				}
				if _, ok := r.provs[an.Provider]; !ok {
					path := fmt.Sprintf("privateNodes.autoNodes[%d].provider", i)
					r.add(CheckProviderExists, SeverityError, vf.File, path, vf.Line(path),
						"provider %q is not among the given NodeProviders (%s)", an.Provider, strings.Join(r.providerNames(), ", "))
				}
			}
		}
		kataTypes := map[string]bool{}
		for _, pool := range pools {
			if _, ok := r.provs[pool.Provider]; !ok {
				continue
			}
			matched, rejections := r.matchPool(pool)
			if len(matched) == 0 {
				var why []string
				for _, rej := range rejections {
					why = append(why, rej.String())
				}
				path := pool.Path + ".nodeTypeSelector"
				r.add(CheckSelectorMatches, SeverityError, vf.File, path, lineOr(vf.Line(path), vf.Line(pool.Path)),
					"pool %q matches no node type of provider %q: %s", pool.Name, pool.Provider, strings.Join(why, " | "))
			}
			for _, t := range matched {
				if t.cpath == mgmtv1.PathPodRuntime {
					kataTypes[t.def.Name] = true
				}
			}
		}
		if v.PrivateNodesEnabled() && len(kataTypes) > 0 && v.ContainerdManagedAtJoin() {
			path := "privateNodes.joinNode.containerd.enabled"
			r.add(CheckContainerdJoin, SeverityWarning, vf.File, path, lineOr(vf.Line(path), vf.Line("privateNodes")),
				"pod-level runtime node types %s join with containerd managed by vCluster (privateNodes.joinNode.containerd.enabled, default true); installing containerd at join can remove Kata runtime handlers installed earlier",
				strings.Join(sortedSet(kataTypes), ", "))
		}
	}
}

func (r *run) providerNames() []string {
	var names []string
	for n := range r.provs {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return []string{"none given"}
	}
	return names
}

// matchPool returns the node types of the pool's provider its selector
// matches, and why the others do not match.
func (r *run) matchPool(pool config.Pool) ([]*nodeType, []mgmtv1.Rejection) {
	var matched []*nodeType
	var rejections []mgmtv1.Rejection
	for _, t := range r.typesOf(pool.Provider) {
		ok, why := mgmtv1.MatchAll(pool.NodeTypeSelector, mgmtv1.SelectableProperties(t.def.Name, t.def.Properties))
		if ok {
			matched = append(matched, t)
		} else {
			rejections = append(rejections, mgmtv1.Rejection{Type: t.def.Name, Reasons: why})
		}
	}
	if len(r.typesOf(pool.Provider)) == 0 {
		rejections = append(rejections, mgmtv1.Rejection{Type: "(none)", Reasons: []string{"the provider declares no node types"}})
	}
	return matched, rejections
}

// checkNodeTypes: the confidential property is a node type property (CC021).
func (r *run) checkNodeTypes() {
	for _, t := range r.types {
		want := hostSelectorTech(t.def.HostSelector)
		if want == "" || t.tech == want {
			continue
		}
		file, path, line := t.at("properties")
		if t.tech == "" {
			r.add(CheckConfidentialProperty, SeverityError, file, path, line,
				"node type %q selects BareMetalHosts with %s=%s but does not have the property itself, so auto nodes cannot select it as confidential and its nodes get no %s label",
				t.def.Name, mgmtv1.PropertyConfidentialCompute, want, mgmtv1.PropertyConfidentialCompute)
		} else {
			r.add(CheckConfidentialProperty, SeverityError, file, path, line,
				"node type %q selects BareMetalHosts with %s=%s but advertises %s=%s",
				t.def.Name, mgmtv1.PropertyConfidentialCompute, want, mgmtv1.PropertyConfidentialCompute, t.tech)
		}
	}
	for _, vf := range r.vcs {
		for _, pool := range vf.Values.Pools() {
			label, ok := pool.NodeLabels[mgmtv1.PropertyConfidentialCompute]
			if !ok {
				continue
			}
			matched, _ := r.matchPool(pool)
			for _, t := range matched {
				if t.tech != label {
					path := pool.Path + ".nodeLabels." + mgmtv1.PropertyConfidentialCompute
					r.add(CheckConfidentialProperty, SeverityError, vf.File, path, vf.Line(path),
						"pool %q labels its nodes %s=%s but node type %q has %s; the label would claim a TEE the node type does not advertise",
						pool.Name, mgmtv1.PropertyConfidentialCompute, label, t.def.Name, describeTech(t.tech))
				}
			}
		}
	}
}

func describeTech(tech string) string {
	if tech == "" {
		return "no confidential-compute property"
	}
	return mgmtv1.PropertyConfidentialCompute + "=" + tech
}

// hostSelectorTech is the confidential-compute value a metal3 host selector
// pins (matchLabels, or an In expression with one value).
func hostSelectorTech(s *metav1.LabelSelector) string {
	if s == nil {
		return ""
	}
	if v, ok := s.MatchLabels[mgmtv1.PropertyConfidentialCompute]; ok {
		return v
	}
	for _, e := range s.MatchExpressions {
		if e.Key == mgmtv1.PropertyConfidentialCompute && e.Operator == metav1.LabelSelectorOpIn && len(e.Values) == 1 {
			return e.Values[0]
		}
	}
	return ""
}

func lineOr(a, b int) int {
	if a > 0 {
		return a
	}
	return b
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
