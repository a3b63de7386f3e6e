package config

import (
	"fmt"
	"strings"

	"github.com/cctest/cctest/config/strictyaml"
)

// VClusterVersion is a vCluster version whose vcluster.yaml rules cctest
// knows: a release, or "main" for what came after the newest one.
type VClusterVersion string

// DefaultVClusterVersion is the newest stable vCluster release.
const DefaultVClusterVersion VClusterVersion = "0.36.1"

// VClusterMain stands for vCluster's main branch (and later releases).
const VClusterMain VClusterVersion = "main"

// fieldsAddedAfter maps each known release to the vcluster.yaml fields of
// main its chart schema rejects (additionalProperties: false). "[]" stands
// for any list index. Only these differences are embedded: the full schema
// is the user's chart's (--vcluster-schema). TestVersionKnowledgeMatchesSchemas
// derives the same list from the two chart schemas.
var fieldsAddedAfter = map[VClusterVersion][]string{
	"0.36.1": {
		"controlPlane.advanced.cloudControllerManager.kubeOvn",
		"deploy.csi",
		"logging.file",
		"privateNodes.autoNodes[].dynamic[].properties",
		"privateNodes.autoNodes[].static[].properties",
	},
	VClusterMain: nil,
}

// VClusterVersions lists the versions cctest knows, the default first.
func VClusterVersions() []string {
	return []string{string(DefaultVClusterVersion), string(VClusterMain)}
}

// ParseVClusterVersion accepts a known version, with or without a leading "v".
func ParseVClusterVersion(s string) (VClusterVersion, error) {
	v := VClusterVersion(strings.TrimPrefix(s, "v"))
	if _, ok := fieldsAddedAfter[v]; !ok {
		return "", fmt.Errorf("unknown vCluster version %q: cctest knows %s", s, strings.Join(VClusterVersions(), ", "))
	}
	return v, nil
}

// versionProblems reports every field of the document that version v does
// not have yet.
func (f *VClusterFile) versionProblems(v VClusterVersion) Problems {
	var ps Problems
	for _, field := range fieldsAddedAfter[v] {
		for _, path := range presentPaths(f.Generic, "", strings.Split(field, ".")) {
			ps = append(ps, withRule(f.Problem(path,
				"not in vCluster %s: the field was added after it (on main) and that version's chart rejects it; remove it, or certify for a later version (--vcluster-version %s)",
				v, VClusterMain), RuleVersion))
		}
	}
	return ps
}

// presentPaths expands a field pattern ("a.b[].c", split at dots) against a
// generic document and returns the paths that are set.
func presentPaths(doc any, path string, segs []string) []string {
	if len(segs) == 0 {
		return []string{path}
	}
	key, list := strings.CutSuffix(segs[0], "[]")
	m, ok := doc.(map[string]any)
	if !ok {
		return nil
	}
	child, ok := m[key]
	if !ok {
		return nil
	}
	path = strictyaml.Child(path, key)
	if !list {
		return presentPaths(child, path, segs[1:])
	}
	items, _ := child.([]any)
	var out []string
	for i, item := range items {
		out = append(out, presentPaths(item, strictyaml.Index(path, i), segs[1:])...)
	}
	return out
}
