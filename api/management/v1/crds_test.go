package v1

import (
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func TestCRDsAreStructural(t *testing.T) {
	crds, err := CRDs()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]apiextensionsv1.ResourceScope{
		"nodeproviders.management.loft.sh": apiextensionsv1.ClusterScoped,
		"nodetypes.management.loft.sh":     apiextensionsv1.ClusterScoped,
		"nodeclaims.management.loft.sh":    apiextensionsv1.NamespaceScoped,
		"baremetalhosts.metal3.io":         apiextensionsv1.NamespaceScoped,
	}
	if len(crds) != len(want) {
		t.Fatalf("got %d CRDs", len(crds))
	}
	for _, crd := range crds {
		scope, ok := want[crd.Name]
		if !ok || crd.Spec.Scope != scope {
			t.Errorf("%s: unexpected or scope %s", crd.Name, crd.Spec.Scope)
		}
		for _, v := range crd.Spec.Versions {
			if v.Subresources == nil || v.Subresources.Status == nil {
				t.Errorf("%s: no status subresource", crd.Name)
			}
			internal := &apiextensions.JSONSchemaProps{}
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
				t.Fatal(err)
			}
			s, err := structuralschema.NewStructural(internal)
			if err != nil {
				t.Fatalf("%s: %v", crd.Name, err)
			}
			if errs := structuralschema.ValidateStructural(field.NewPath("openAPIV3Schema"), s); len(errs) > 0 {
				t.Errorf("%s: not structural: %v", crd.Name, errs.ToAggregate())
			}
		}
	}
}

// schemaFor compiles a CRD's openAPIV3Schema with a JSON-schema validator so
// objects built from the Go types can be checked against it.
func schemaFor(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	crds, err := CRDs()
	if err != nil {
		t.Fatal(err)
	}
	for _, crd := range crds {
		if crd.Name != name {
			continue
		}
		raw, _ := json.Marshal(crd.Spec.Versions[0].Schema.OpenAPIV3Schema)
		doc, err := jsonschema.UnmarshalJSON(bytesReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource("crd.json", doc); err != nil {
			t.Fatal(err)
		}
		s, err := c.Compile("crd.json")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Fatalf("no CRD %s", name)
	return nil
}

func TestTypesFitCRDSchemasAndRoundTrip(t *testing.T) {
	cost := int64(5)
	np := NewNodeProvider("bare-metal")
	np.Spec.Metal3 = &Metal3Provider{
		ClusterRef: ClusterRef{Cluster: "datacenter", Namespace: "metal3"},
		NodeTypes: []Metal3NodeType{{
			NodeTypeDefinition: NodeTypeDefinition{Name: "tdx-large", Properties: map[string]string{"confidential-compute": "tdx"},
				Resources: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64"), corev1.ResourceMemory: resource.MustParse("512Gi")}, Cost: cost},
			BareMetalHosts: Metal3BareMetalHosts{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"confidential-compute": "tdx"}}},
		}},
	}
	np.Status.Phase = PhaseAvailable
	np.Status.Conditions = []Condition{{Type: "Initialized", Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}

	claim := NewNodeClaim("tenant-a", "c1")
	claim.Spec = NodeClaimSpec{ProviderRef: "bare-metal", TypeRef: "tdx-large", VClusterRef: "tenant-a",
		Requirements: NodeSelectors([]Requirement{{Property: "confidential-compute", Operator: OpIn, Values: []string{"tdx"}}}),
		Taints:       []corev1.Taint{{Key: "k", Value: "v", Effect: corev1.TaintEffectNoSchedule}}}
	claim.Status.Phase = PhasePending
	claim.Status.Conditions = []Condition{{Type: ConditionScheduled, Status: corev1.ConditionFalse, Severity: SeverityWarning, Reason: "NoNodeType", Message: "none fits"}}

	nt := np.NodeTypeObjects()[0]
	nt.Status.Capacity = NodeTypeCapacity{Total: 2, Claimed: 1}

	bmh := NewBareMetalHost("metal3", "host-1")
	bmh.Labels = map[string]string{"confidential-compute": "tdx"}
	bmh.Spec.Online = true

	for _, c := range []struct {
		crd string
		obj any
	}{{"nodeproviders.management.loft.sh", np}, {"nodeclaims.management.loft.sh", claim}, {"nodetypes.management.loft.sh", &nt}, {"baremetalhosts.metal3.io", bmh}} {
		u, err := ToUnstructured(c.obj)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(u.Object)
		inst, _ := jsonschema.UnmarshalJSON(bytesReader(raw))
		if err := schemaFor(t, c.crd).Validate(inst); err != nil {
			t.Errorf("%s does not fit its CRD: %v", c.crd, err)
		}
	}

	// Round trip through unstructured keeps the fields.
	u, _ := ToUnstructured(claim)
	back, err := NodeClaimFrom(u)
	if err != nil {
		t.Fatal(err)
	}
	if back.Spec.Requirements[0].Values[0] != "tdx" || back.Status.Conditions[0].Severity != SeverityWarning || back.Namespace != "tenant-a" {
		t.Errorf("round trip lost fields: %+v", back)
	}
	u, _ = ToUnstructured(np)
	npBack, err := NodeProviderFrom(u)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := npBack.Spec.Kind(); err != nil || k != ProviderMetal3 {
		t.Errorf("kind = %v, %v", k, err)
	}
	if npBack.Spec.Metal3.NodeTypes[0].Cost != 5 || npBack.Spec.Metal3.NodeTypes[0].BareMetalHosts.Selector.MatchLabels["confidential-compute"] != "tdx" {
		t.Errorf("round trip lost metal3 fields")
	}

	// A bad object is rejected by the schema (the check can fail).
	bad := map[string]any{"apiVersion": "management.loft.sh/v1", "kind": "NodeType", "spec": map[string]any{"cost": "cheap"}}
	raw, _ := json.Marshal(bad)
	inst, _ := jsonschema.UnmarshalJSON(bytesReader(raw))
	if err := schemaFor(t, "nodetypes.management.loft.sh").Validate(inst); err == nil {
		t.Error("schema accepted a string cost and missing providerRef")
	}
}

func TestProviderKind(t *testing.T) {
	s := NodeProviderSpec{}
	if _, err := s.Kind(); err == nil {
		t.Error("empty spec has a kind")
	}
	s.Metal3, s.Terraform = &Metal3Provider{}, &TerraformProvider{}
	if _, err := s.Kind(); err == nil {
		t.Error("two providers accepted")
	}
}
