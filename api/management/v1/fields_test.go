package v1

import (
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// Facts: the JSON fields of the platform API, read from loft-sh/api
// v4.11.0-rc.1 (vendored by vCluster v0.36.1), pkg/apis/storage/v1
// nodeclaim_types.go, nodetype_types.go, nodeprovider_types.go (the
// management/v1 types inline them) and agentapi's Condition. "[]" steps into
// the first item of a list. Opaque templates and deployments are listed down
// to the first level the CRD keeps opaque.
var conditionFields = []string{"type", "status", "severity", "lastTransitionTime", "reason", "message"}

func conds(prefix string) []string {
	var out []string
	for _, f := range conditionFields {
		out = append(out, prefix+"[]."+f)
	}
	return out
}

func namedNodeType(prefix string, extra ...string) []string {
	out := []string{"name", "metadata.labels", "metadata.annotations", "providerRef", "properties",
		"resources", "overhead.kubeReserved", "cost", "displayName"}
	out = append(out, extra...)
	for i := range out {
		out[i] = prefix + "[]." + out[i]
	}
	return out
}

var platformFields = map[string][]string{
	KindNodeClaim: append([]string{
		"spec.displayName", "spec.owner.user", "spec.owner.team",
		"spec.access[].name", "spec.access[].verbs", "spec.access[].subresources", "spec.access[].users", "spec.access[].teams",
		"spec.providerRef", "spec.typeRef", "spec.environmentRef", "spec.properties", "spec.vClusterRef", "spec.controlPlane",
		"spec.taints[].key", "spec.taints[].value", "spec.taints[].effect", "spec.taints[].timeAdded",
		"spec.startupTaints[].key", "spec.kubeletArgs", "spec.profileRef", "spec.desiredCapacity",
		"spec.requirements[].key", "spec.requirements[].operator", "spec.requirements[].values",
		"spec.power.state",
		"status.phase", "status.reason", "status.message", "status.power.state",
	}, conds("status.conditions")...),
	KindNodeType: append([]string{
		"spec.providerRef", "spec.properties", "spec.resources", "spec.overhead.kubeReserved", "spec.cost", "spec.displayName",
		"status.phase", "status.reason", "status.message", "status.cost", "status.capacity.total", "status.capacity.claimed",
		"status.requirements[].key", "status.requirements[].operator", "status.requirements[].values",
	}, conds("status.conditions")...),
	KindNodeProvider: concat(
		[]string{"spec.properties", "spec.displayName",
			"spec.bcm.secretRef.name", "spec.bcm.secretRef.namespace", "spec.bcm.endpoint",
			"spec.kubeVirt.clusterRef.cluster", "spec.kubeVirt.clusterRef.namespace", "spec.kubeVirt.deploy.kubevirt.enabled",
			"spec.kubeVirt.virtualMachineTemplate",
			"spec.terraform.nodeTemplate.inline", "spec.terraform.nodeTemplate.git.repository", "spec.terraform.nodeTemplate.timeout",
			"spec.terraform.nodeEnvironmentTemplate.inline", "spec.terraform.nodeEnvironmentTemplate.infrastructure.inline",
			"spec.terraform.nodeEnvironmentTemplate.kubernetes.inline",
			"spec.clusterAPI.clusterRef.cluster", "spec.clusterAPI.infrastructureMachineTemplate", "spec.clusterAPI.bootstrapConfigTemplate",
			"spec.metal3.clusterRef.cluster", "spec.metal3.clusterRef.namespace",
			"spec.metal3.deploy.multus.enabled", "spec.metal3.deploy.dhcp.chart", "spec.metal3.deploy.metal3.version",
			"status.phase", "status.reason", "status.message"},
		conds("status.conditions"),
		namedNodeType("spec.bcm.nodeTypes", "nodes", "nodeGroups"),
		namedNodeType("spec.kubeVirt.nodeTypes", "virtualMachineTemplate", "mergeVirtualMachineTemplate", "maxCapacity"),
		namedNodeType("spec.terraform.nodeTypes", "nodeTemplate.inline", "maxCapacity"),
		namedNodeType("spec.clusterAPI.nodeTypes", "infrastructureMachineTemplate", "bootstrapConfigTemplate",
			"mergeInfrastructureMachineTemplate", "mergeBootstrapConfigTemplate", "maxCapacity"),
		namedNodeType("spec.metal3.nodeTypes", "bareMetalHosts.selector.matchLabels"),
	),
}

// untyped are listed fields the Go types leave out on purpose (the harness
// neither reads nor writes them); the CRDs still accept them.
var untyped = []string{
	"spec.owner.", "spec.access[].", "spec.profileRef", "spec.desiredCapacity", "spec.power.", "status.power.",
	"status.requirements[].", ".providerRef", // inline node types' providerRef
	"spec.kubeVirt.deploy.", "spec.metal3.deploy.", // kept opaque: typed as maps, listed for the CRD
}

func concat(ls ...[]string) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l...)
	}
	return out
}

// fullObjects populate every listed field.
var fullObjects = map[string]string{
	KindNodeClaim: `
apiVersion: management.loft.sh/v1
kind: NodeClaim
metadata: {name: tenant-x7k2p, namespace: p-default}
spec:
  displayName: d
  owner: {user: u, team: t}
  access: [{name: a, verbs: [get], subresources: [log], users: [u], teams: [t]}]
  providerRef: bare-metal
  typeRef: tdx-large
  environmentRef: env
  properties: {a: b}
  vClusterRef: tenant
  controlPlane: false
  taints: [{key: k, value: v, effect: NoSchedule, timeAdded: "2026-01-01T00:00:00Z"}]
  startupTaints: [{key: s, effect: NoSchedule}]
  kubeletArgs: {max-pods: "110"}
  profileRef: prof
  desiredCapacity: {cpu: "4"}
  requirements: [{key: confidential-compute, operator: In, values: [tdx]}]
  power: {state: "On"}
status:
  phase: Pending
  reason: r
  message: m
  power: {state: "On"}
  conditions: [{type: Scheduled, status: "False", severity: Warning, lastTransitionTime: "2026-01-01T00:00:00Z", reason: r, message: m}]
`,
	KindNodeType: `
apiVersion: management.loft.sh/v1
kind: NodeType
metadata: {name: tdx-large}
spec:
  providerRef: bare-metal
  properties: {confidential-compute: tdx}
  resources: {cpu: "64", memory: 512Gi}
  overhead: {kubeReserved: {cpu: "1"}}
  cost: 5
  displayName: TDX
status:
  phase: Available
  reason: r
  message: m
  cost: 5
  capacity: {total: 2, claimed: 1}
  requirements: [{key: confidential-compute, operator: In, values: [tdx]}]
  conditions: [{type: HasCapacity, status: "False", severity: Warning, lastTransitionTime: "2026-01-01T00:00:00Z", reason: r, message: m}]
`,
	KindNodeProvider: `
apiVersion: management.loft.sh/v1
kind: NodeProvider
metadata: {name: p}
spec:
  properties: {a: b}
  displayName: P
  bcm:
    secretRef: {name: s, namespace: ns}
    endpoint: https://bcm
    nodeTypes: [{name: b, metadata: {labels: {a: b}, annotations: {a: b}}, providerRef: p, properties: {a: b}, resources: {cpu: "1"}, overhead: {kubeReserved: {cpu: "1"}}, cost: 1, displayName: B, nodes: [n1], nodeGroups: [g1]}]
  kubeVirt:
    clusterRef: {cluster: c, namespace: ns}
    deploy: {kubevirt: {enabled: true}}
    virtualMachineTemplate: {kind: VirtualMachine}
    nodeTypes: [{name: k, metadata: {labels: {a: b}, annotations: {a: b}}, providerRef: p, properties: {a: b}, resources: {cpu: "1"}, overhead: {kubeReserved: {cpu: "1"}}, cost: 1, displayName: K, virtualMachineTemplate: {a: b}, mergeVirtualMachineTemplate: {a: b}, maxCapacity: 3}]
  terraform:
    nodeTemplate: {inline: x, git: {repository: r}, timeout: 1m}
    nodeEnvironmentTemplate: {inline: x, infrastructure: {inline: y}, kubernetes: {inline: z}}
    nodeTypes: [{name: t, metadata: {labels: {a: b}, annotations: {a: b}}, providerRef: p, properties: {a: b}, resources: {cpu: "1"}, overhead: {kubeReserved: {cpu: "1"}}, cost: 1, displayName: T, nodeTemplate: {inline: x}, maxCapacity: 3}]
  clusterAPI:
    clusterRef: {cluster: c}
    infrastructureMachineTemplate: {kind: X}
    bootstrapConfigTemplate: {kind: Y}
    nodeTypes: [{name: c, metadata: {labels: {a: b}, annotations: {a: b}}, providerRef: p, properties: {a: b}, resources: {cpu: "1"}, overhead: {kubeReserved: {cpu: "1"}}, cost: 1, displayName: C, infrastructureMachineTemplate: {a: b}, bootstrapConfigTemplate: {a: b}, mergeInfrastructureMachineTemplate: {a: b}, mergeBootstrapConfigTemplate: {a: b}, maxCapacity: 3}]
  metal3:
    clusterRef: {cluster: c, namespace: metal3}
    deploy: {multus: {enabled: true}, dhcp: {enabled: true, chart: d}, metal3: {enabled: true, version: "1"}}
    nodeTypes: [{name: m, metadata: {labels: {a: b}, annotations: {a: b}}, providerRef: p, properties: {a: b}, resources: {cpu: "1"}, overhead: {kubeReserved: {cpu: "1"}}, cost: 1, displayName: M, bareMetalHosts: {selector: {matchLabels: {a: b}}}}]
status:
  phase: Available
  reason: r
  message: m
  conditions: [{type: Initialized, status: "False", severity: Error, lastTransitionTime: "2026-01-01T00:00:00Z", reason: r, message: m}]
`,
}

var crdOf = map[string]string{
	KindNodeClaim: "nodeclaims.management.loft.sh", KindNodeType: "nodetypes.management.loft.sh", KindNodeProvider: "nodeproviders.management.loft.sh",
}

// has reports whether a listed path is set in obj.
func has(obj any, path string) bool {
	cur := obj
	for _, step := range strings.Split(path, ".") {
		list := strings.HasSuffix(step, "[]")
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[strings.TrimSuffix(step, "[]")]; !ok {
			return false
		}
		if list {
			l, ok := cur.([]any)
			if !ok || len(l) == 0 {
				return false
			}
			cur = l[0]
		}
	}
	return true
}

func structural(t *testing.T, crd string) *structuralschema.Structural {
	t.Helper()
	crds, err := CRDs()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range crds {
		if c.Name == crd {
			internal := &apiextensions.JSONSchemaProps{}
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(c.Spec.Versions[0].Schema.OpenAPIV3Schema, internal, nil); err != nil {
				t.Fatal(err)
			}
			s, err := structuralschema.NewStructural(internal)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	}
	t.Fatalf("no CRD %s", crd)
	return nil
}

func TestPlatformFieldsSurvive(t *testing.T) {
	for kind, fields := range platformFields {
		t.Run(kind, func(t *testing.T) {
			obj := map[string]any{}
			if err := yaml.Unmarshal([]byte(fullObjects[kind]), &obj); err != nil {
				t.Fatal(err)
			}
			for _, f := range fields {
				if !has(obj, f) {
					t.Fatalf("fixture does not populate %s", f)
				}
			}
			// The CRD keeps every field of the real API (nothing pruned) and
			// the object validates.
			pruned := pruning.PruneWithOptions(obj, structural(t, crdOf[kind]), true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
			if len(pruned) > 0 {
				t.Errorf("CRD %s prunes %v", crdOf[kind], pruned)
			}
			raw, _ := yaml.YAMLToJSON([]byte(fullObjects[kind]))
			inst, _ := jsonschema.UnmarshalJSON(bytesReader(raw))
			if err := schemaFor(t, crdOf[kind]).Validate(inst); err != nil {
				t.Errorf("does not fit its CRD: %v", err)
			}
			// Typed fields survive unstructured -> Go -> unstructured.
			var typed any
			switch kind {
			case KindNodeClaim:
				typed = &NodeClaim{}
			case KindNodeType:
				typed = &NodeType{}
			default:
				typed = &NodeProvider{}
			}
			if err := FromUnstructured(&unstructured.Unstructured{Object: obj}, typed); err != nil {
				t.Fatal(err)
			}
			back, err := ToUnstructured(typed)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range fields {
				if !has(back.Object, f) && !isUntyped(f) {
					t.Errorf("%s lost in the Go round trip", f)
				}
			}
		})
	}
}

func isUntyped(f string) bool {
	for _, u := range untyped {
		if strings.HasPrefix(f, u) || (strings.HasPrefix(u, ".") && strings.HasSuffix(f, u)) {
			return true
		}
	}
	return false
}
