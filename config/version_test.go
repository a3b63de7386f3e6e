package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// schemaFields lists the instance paths a chart schema defines ("[]" for
// list items), following $ref into $defs.
func schemaFields(t *testing.T, file string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	defs, _ := root["$defs"].(map[string]any)
	out := map[string]bool{}
	var walk func(node any, path string, seen map[string]bool)
	walk = func(node any, path string, seen map[string]bool) {
		n, ok := node.(map[string]any)
		if !ok {
			return
		}
		if ref, ok := n["$ref"].(string); ok {
			name := ref[strings.LastIndex(ref, "/")+1:]
			if !seen[name] {
				seen[name] = true
				walk(defs[name], path, seen)
				delete(seen, name)
			}
			return
		}
		props, _ := n["properties"].(map[string]any)
		for k, v := range props {
			p := k
			if path != "" {
				p = path + "." + k
			}
			out[p] = true
			walk(v, p, seen)
		}
		walk(n["items"], path+"[]", seen)
		for _, kw := range []string{"anyOf", "oneOf", "allOf"} {
			alts, _ := n[kw].([]any)
			for _, a := range alts {
				walk(a, path, seen)
			}
		}
	}
	walk(root, "", map[string]bool{})
	return out
}

// The embedded knowledge of what v0.36.1 lacks is exactly the difference
// between the two chart schemas (the outermost new field of each branch).
func TestVersionKnowledgeMatchesSchemas(t *testing.T) {
	dir := upstreamDir(t)
	old := schemaFields(t, filepath.Join(dir, "v0.36.1", "values.schema.json"))
	main := schemaFields(t, filepath.Join(dir, "values.schema.json"))
	parent := func(p string) string { return strings.TrimSuffix(p[:max(0, strings.LastIndex(p, "."))], "[]") }
	var added []string
	for p := range main {
		if !old[p] && (parent(p) == "" || old[parent(p)]) {
			added = append(added, p)
		}
	}
	for p := range old {
		if !main[p] {
			t.Errorf("%s is in v0.36.1 but not on main: cctest cannot express removed fields yet", p)
		}
	}
	slices.Sort(added)
	if want := fieldsAddedAfter[DefaultVClusterVersion]; !slices.Equal(added, want) {
		t.Fatalf("fields added after v0.36.1 per the schemas:\n%s\nembedded:\n%s", strings.Join(added, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseVClusterVersion(t *testing.T) {
	for in, want := range map[string]VClusterVersion{"0.36.1": "0.36.1", "v0.36.1": "0.36.1", "main": VClusterMain} {
		if got, err := ParseVClusterVersion(in); err != nil || got != want {
			t.Errorf("%s: %q, %v", in, got, err)
		}
	}
	_, err := ParseVClusterVersion("0.30.0")
	if err == nil || !strings.Contains(err.Error(), `unknown vCluster version "0.30.0": cctest knows 0.36.1, main`) {
		t.Fatalf("err = %v", err)
	}
}

func TestPoolPropertiesNeedMain(t *testing.T) {
	src := `privateNodes:
  enabled: true
  autoNodes:
  - provider: p
    static:
    - name: s
      quantity: 1
      properties: {metal3.vcluster.com/image-url: "https://images.example/tdx.img"}
    dynamic:
    - name: d
      properties: {}
logging:
  file: {enabled: true}
`
	f, err := LoadVCluster("vc.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	ps := f.ValidateFor(DefaultVClusterVersion)
	for _, path := range []string{"privateNodes.autoNodes[0].static[0].properties", "privateNodes.autoNodes[0].dynamic[0].properties", "logging.file"} {
		wantProblem(t, ps, path, "not in vCluster 0.36.1: the field was added after it")
	}
	if static := ps[len(ps)-1]; len(ps) != 3 || static.Rule != RuleVersion || static.Line != 8 {
		t.Fatalf("problems = %+v", ps)
	}
	if ps := f.ValidateFor(VClusterMain); len(ps) > 0 {
		t.Fatalf("main: %v", ps)
	}
}
