package kind

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"

	"github.com/cctest/cctest/fixtures"
)

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

// chartSchema is the vCluster chart's values.schema.json from
// ../shared/upstream/vcluster (data for tests, not committed). Helm
// validates values against it on install, so the generated values must pass.
func chartSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	path := findUp("../shared/upstream/vcluster/values.schema.json")
	if path == "" {
		t.Skip("../shared/upstream/vcluster/values.schema.json not found")
	}
	schemaOnce.Do(func() {
		var data []byte
		data, schemaErr = os.ReadFile(path)
		if schemaErr != nil {
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			schemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		if schemaErr = c.AddResource("values.schema.json", doc); schemaErr != nil {
			return
		}
		schema, schemaErr = c.Compile("values.schema.json")
	})
	if schemaErr != nil {
		t.Fatalf("chart schema: %v", schemaErr)
	}
	return schema
}

func findUp(rel string) string {
	dir, _ := os.Getwd()
	for range 8 {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		dir = filepath.Dir(dir)
	}
	return ""
}

// validateValues checks YAML values against the chart schema.
func validateValues(t *testing.T, values []byte) error {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(values, &v); err != nil {
		return err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	return chartSchema(t).Validate(inst)
}

func TestValuesValidateAgainstChartSchema(t *testing.T) {
	cases := map[string]Options{}
	for n, o := range goldenCases {
		cases[n] = o
	}
	// Every shared-nodes fixture in the repository.
	for _, f := range []string{"reference/vcluster-shared-nodes.yaml", "negative/vcluster-shared-toHost-override.yaml"} {
		b, err := fixtures.Read(f)
		if err != nil {
			t.Fatal(err)
		}
		cases[f] = Options{VClusterYAML: b, VClusterFile: f}
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := ChartValues(o)
			if err != nil {
				t.Fatal(err)
			}
			if err := validateValues(t, b); err != nil {
				t.Errorf("generated values fail the chart schema: %v\n%s", err, b)
			}
		})
	}
}

// The schema check can fail: a value of the wrong type where kind adds
// its settings is caught.
func TestSchemaCheckCanFail(t *testing.T) {
	b, err := ChartValues(Options{})
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(b), "httpsNodePort: 31443", `httpsNodePort: "31443"`, 1)
	if bad == string(b) {
		t.Fatal("the values have no httpsNodePort to break")
	}
	err = validateValues(t, []byte(bad))
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("a string node port passed the schema (err %v)", err)
	}
	if err := validateValues(t, []byte("controlPlane:\n  service:\n    nodePort: 1\n")); err == nil {
		t.Error("an unknown controlPlane.service field passed the schema")
	}
}

func mustFixture(t *testing.T, path string) []byte {
	t.Helper()
	b, err := fixtures.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
