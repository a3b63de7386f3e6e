package v1

import (
	"sort"

	"github.com/cctest/cctest/api/teename"
)

// Built-in node type properties vCluster Platform sets on every node type
// (they can be selected on and become node labels).
const (
	PropertyNodeType     = "vcluster.com/node-type"
	PropertyInstanceType = "node.kubernetes.io/instance-type"
	PropertyZone         = "topology.kubernetes.io/zone"
	PropertyRegion       = "topology.kubernetes.io/region"
	PropertyCapacityType = "karpenter.sh/capacity-type"
	PropertyOS           = "kubernetes.io/os"
)

// Built-in values: the zone is "global" unless the type sets one; capacity
// type and OS are fixed.
const (
	DefaultZone         = "global"
	DefaultCapacityType = "on-demand"
	DefaultOS           = "linux"
)

// Keys the harness defines. vCluster has no standard key for any of these;
// they are cctest conventions, used by certify, the simulators and the suites.
const (
	// PropertyConfidentialCompute names the TEE technology of a node type
	// (the seed's key). A node type with this property set is "confidential".
	PropertyConfidentialCompute = "confidential-compute"

	// PropertyOnHostMaintenance is the host maintenance policy of a cloud
	// Confidential VM node type: MIGRATE or TERMINATE (GCP's
	// on_host_maintenance; other clouds' equivalent).
	PropertyOnHostMaintenance = "cctest.dev/on-host-maintenance"

	// PropertySecureBoot and PropertyVTPM are the Shielded VM features a
	// cloud Confidential VM node type is created with ("true" / "false"):
	// UEFI secure boot on, a virtual TPM present.
	PropertySecureBoot = "cctest.dev/secure-boot"
	PropertyVTPM       = "cctest.dev/vtpm"

	// PropertyConfidentialPath overrides how a confidential node type runs
	// workloads: "cloud-vm" (the whole VM is the TEE, no RuntimeClass) or
	// "pod-runtime" (Kata / Confidential Containers per pod). Without it the
	// path is inferred, see PathOf.
	PropertyConfidentialPath = "cctest.dev/confidential-path"
)

// KnownTechnologies lists the values of PropertyConfidentialCompute with an attestation path.
var KnownTechnologies = []string{teename.TDX, teename.SNP}

// Maintenance policies (values of PropertyOnHostMaintenance).
const (
	MaintenanceMigrate   = "MIGRATE"
	MaintenanceTerminate = "TERMINATE"
)

// ConfidentialPath is where the TEE sits.
type ConfidentialPath string

const (
	PathNone       ConfidentialPath = ""            // not a confidential node type
	PathCloudVM    ConfidentialPath = "cloud-vm"    // provider Confidential VM, whole node in the TEE
	PathPodRuntime ConfidentialPath = "pod-runtime" // Kata / CoCo, each pod in its own TEE VM
)

// ProviderKind is which block of a NodeProvider spec is set.
type ProviderKind string

const (
	ProviderBCM        ProviderKind = "bcm"
	ProviderKubeVirt   ProviderKind = "kubeVirt"
	ProviderTerraform  ProviderKind = "terraform"
	ProviderClusterAPI ProviderKind = "clusterAPI"
	ProviderMetal3     ProviderKind = "metal3"
)

// Technology returns the TEE technology a property set advertises ("" = none).
func Technology(props map[string]string) string { return props[PropertyConfidentialCompute] }

// IsConfidential reports whether a node type with these properties is confidential.
func IsConfidential(props map[string]string) bool { return Technology(props) != "" }

// BareMetal reports whether capacity of this provider kind is physical servers.
func (k ProviderKind) BareMetal() bool { return k == ProviderMetal3 || k == ProviderBCM }

// PathOf decides the confidential path of a node type:
//   - not confidential -> PathNone;
//   - PropertyConfidentialPath set -> that value;
//   - bare-metal providers (metal3, bcm) -> pod-runtime (Kata on the host);
//   - VM providers (terraform, clusterAPI, kubeVirt) whose type names a cloud
//     instance type (node.kubernetes.io/instance-type property) -> cloud-vm;
//   - anything else -> pod-runtime.
func PathOf(kind ProviderKind, props map[string]string) ConfidentialPath {
	if !IsConfidential(props) {
		return PathNone
	}
	if p, ok := props[PropertyConfidentialPath]; ok {
		return ConfidentialPath(p)
	}
	if kind.BareMetal() {
		return PathPodRuntime
	}
	if props[PropertyInstanceType] != "" {
		return PathCloudVM
	}
	return PathPodRuntime
}

// BuiltinProperties are the built-in properties of a node type named name with
// the given properties: instance type and zone may be set by the type;
// node type, capacity type and OS are fixed.
func BuiltinProperties(name string, props map[string]string) map[string]string {
	b := map[string]string{
		PropertyInstanceType: name,
		PropertyZone:         DefaultZone,
	}
	for _, k := range []string{PropertyInstanceType, PropertyZone} {
		if v, ok := props[k]; ok {
			b[k] = v
		}
	}
	b[PropertyNodeType] = name // it identifies the type
	b[PropertyCapacityType] = DefaultCapacityType
	b[PropertyOS] = DefaultOS
	return b
}

// SelectableProperties are what a nodeTypeSelector is evaluated against: the
// type's properties verbatim plus the built-ins.
func SelectableProperties(name string, props map[string]string) map[string]string {
	out := make(map[string]string, len(props)+5)
	for k, v := range props {
		out[k] = v
	}
	for k, v := range BuiltinProperties(name, props) {
		out[k] = v
	}
	return out
}

// NodeLabels is the full label set a node of the type gets when it joins: the
// type's properties verbatim, the built-ins, then the pool's nodeLabels.
func NodeLabels(name string, props, poolNodeLabels map[string]string) map[string]string {
	out := SelectableProperties(name, props)
	for k, v := range poolNodeLabels {
		out[k] = v
	}
	return out
}

// SortedKeys returns the keys of m in order (stable messages and output).
func SortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
