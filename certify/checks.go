package certify

import "sort"

// Severity of a finding.
type Severity string

const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Check describes one certify check. IDs are stable: scripts and CI gates
// may refer to them.
type Check struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// Fix is the default hint attached to findings of this check.
	Fix string `json:"fix,omitempty"`
}

// The checks, by ID.
var (
	CheckVClusterValid = Check{"CC001", "vcluster-valid",
		"vcluster.yaml parses strictly (no unknown fields) and passes vCluster's validation rules",
		"correct or remove the field; the vCluster chart's values.schema.json lists the valid keys"}
	CheckVClusterSchema = Check{"CC002", "vcluster-schema",
		"vcluster.yaml validates against the vCluster chart's JSON schema (--vcluster-schema)",
		"change the value to what the chart schema allows"}
	CheckInputsValid = Check{"CC003", "inputs-valid",
		"NodeProvider, RuntimeClass, workload, NetworkPolicy and policy files parse strictly and are valid",
		"correct the manifest; unknown fields are rejected"}
	CheckVClusterVersion = Check{"CC004", "vcluster-version",
		"vcluster.yaml uses only fields the targeted vCluster version has (--vcluster-version)",
		"remove the field, or certify for the version that has it (--vcluster-version main)"}

	CheckAutoNodesArray = Check{"CC010", "autonodes-array-form",
		"privateNodes.autoNodes uses the array form (the map form is rejected since vCluster v0.30)",
		"rewrite autoNodes as a list: `- provider: <name>` with static/dynamic pools"}
	CheckRequirements = Check{"CC011", "autonodes-requirements",
		"nodeTypeSelector requirements use vCluster's operators (In, NotIn, Exists, DoesNotExist, Gt, Lt) with value/values as each needs",
		"use DoesNotExist instead of NotExists; In/NotIn need values, Exists/DoesNotExist none, Gt/Lt one integer (non-negative in dynamic pools); set value or values, not both"}
	CheckProviderUnique = Check{"CC012", "autonodes-provider-unique",
		"each autoNodes entry names a provider, each provider at most once",
		"merge the pools of the same provider into one autoNodes entry"}
	CheckPoolUnique = Check{"CC013", "autonodes-pool-names",
		"every pool has a name, unique across static and dynamic pools",
		"give every pool a distinct name"}
	CheckStaticQuantity = Check{"CC014", "autonodes-static-quantity",
		"static pools set quantity >= 0",
		"set quantity on the static pool"}
	CheckProviderExists = Check{"CC015", "autonodes-provider-exists",
		"the provider named by autoNodes is one of the given NodeProviders",
		"fix the provider name or pass the NodeProvider file with --node-provider"}
	CheckPrivateNodesOn = Check{"CC016", "autonodes-private-nodes",
		"autoNodes only provision when privateNodes.enabled is true",
		"set privateNodes.enabled: true"}
	CheckPrivateNodesMode = Check{"CC017", "private-nodes-mode",
		"with private nodes, none of what vCluster refuses there (integrations, embedded CoreDNS, host path mapper, multi-namespace mode); controlPlane.endpoint only there, as host:port",
		"disable the feature vCluster refuses with private nodes (or run the tenant on shared nodes); set controlPlane.endpoint only with private nodes, as host:port"}

	CheckSelectorMatches = Check{"CC020", "selector-matches-node-type",
		"every nodeTypeSelector matches at least one node type of its provider",
		"align the selector with the node type properties (built-ins: vcluster.com/node-type, node.kubernetes.io/instance-type, topology.kubernetes.io/zone, karpenter.sh/capacity-type, kubernetes.io/os)"}
	CheckConfidentialProperty = Check{"CC021", "confidential-property-on-node-type",
		"the confidential property is a property of the node type (not only a host label or a pool nodeLabel)",
		"add `confidential-compute: <tdx|sev-snp>` to the node type's properties"}
	CheckWorkloadSelector = Check{"CC022", "workload-node-selector",
		"a workload's nodeSelector / required node affinity is satisfiable by the labels of some node type",
		"select on labels node types really get: their properties, the built-ins and the pool's nodeLabels"}
	CheckNodeTypeResources = Check{"CC023", "node-type-resources",
		"node types declare resources (cpu, memory) unless their provider discovers them (BCM, KubeVirt): the platform only chooses a type the pods fit",
		"set resources.cpu and resources.memory on the node type"}
	CheckMetal3Image = Check{"CC024", "metal3-os-image",
		"metal3 node types get an OS image: vcluster.com/os-image, or metal3.vcluster.com/image-url with image-checksum",
		"set vcluster.com/os-image (an OSImage), or metal3.vcluster.com/image-url and metal3.vcluster.com/image-checksum, in the node type's properties"}

	CheckRuntimeClassHandler = Check{"CC030", "runtimeclass-handler",
		"RuntimeClasses set a valid handler",
		"set handler to the containerd runtime handler on the node image (e.g. kata-qemu-tdx)"}
	CheckRuntimeClassSyncSelector = Check{"CC031", "runtimeclass-sync-selector",
		"on shared nodes, confidential RuntimeClasses match sync.fromHost.runtimeClasses.selector and the selector is not empty",
		"label the RuntimeClass so the selector matches it (e.g. confidential-compute: tdx) and keep the selector narrow"}
	CheckSyncPrivateNodes = Check{"CC032", "runtimeclass-sync-private-nodes",
		"sync.fromHost.runtimeClasses is a no-op with privateNodes.enabled",
		"create the RuntimeClass inside the tenant: list it in experimental.deploy.vcluster.manifests, kubectl apply it to the tenant, or run kata-deploy inside the tenant"}
	CheckWorkloadRuntimeClass = Check{"CC033", "workload-runtimeclass-exists",
		"the workload's runtimeClassName exists in the tenant (synced from the host or deployed in the tenant)",
		"make the RuntimeClass available in the tenant, or fix runtimeClassName"}
	CheckRuntimeClassOverride = Check{"CC034", "toHost-runtimeclass-override",
		"sync.toHost.pods.runtimeClassName does not replace a confidential workload's runtime class",
		"unset sync.toHost.pods.runtimeClassName or set it to the confidential class"}
	CheckCloudVMRuntimeClass = Check{"CC035", "cloud-cvm-no-runtimeclass",
		"workloads for cloud Confidential VM node types do not set runtimeClassName",
		"remove runtimeClassName: the whole VM is the TEE and standard containers run inside it"}
	CheckPodRuntimeClass = Check{"CC036", "pod-runtime-needs-runtimeclass",
		"workloads for pod-level runtime node types set runtimeClassName (otherwise they run outside the TEE)",
		"set runtimeClassName to the confidential RuntimeClass (e.g. kata-qemu-tdx)"}
	CheckContainerdJoin = Check{"CC037", "containerd-join-kata",
		"privateNodes.joinNode.containerd.enabled (default true) can wipe Kata handlers installed before the join",
		"install Kata after the join (kata-deploy in the tenant) or bake the image and set privateNodes.joinNode.containerd.enabled: false"}
	CheckRuntimeClassPatches = Check{"CC038", "runtimeclass-patches-pro",
		"sync.fromHost.runtimeClasses.patches need vCluster Pro: on open-source vCluster no RuntimeClass is synced at all",
		"remove the patches unless the tenant runs vCluster Pro"}
	CheckTenantOnlyClassShared = Check{"CC039", "tenant-runtimeclass-shared-nodes",
		"on shared nodes with RuntimeClass sync and a selector, a tenant RuntimeClass exempt by controlled-by has a host twin the selector matches",
		"install the class on the host with labels the sync selector matches, and sync it instead of deploying it in the tenant"}

	CheckCloudZone = Check{"CC040", "cloud-cvm-zone",
		"cloud Confidential VM node types set an explicit zone, not only a region",
		"set the property topology.kubernetes.io/zone to a zone (e.g. us-central1-a)"}
	CheckCloudMaintenance = Check{"CC041", "cloud-cvm-maintenance",
		"cloud Confidential VM node types set cctest.dev/on-host-maintenance, TERMINATE where the instance family cannot live-migrate",
		"set the property cctest.dev/on-host-maintenance: TERMINATE (and the provider's equivalent in the node template)"}

	CheckPolicyCoverage = Check{"CC050", "attestation-policy-coverage",
		"an attestation policy allows the TEE of every confidential node type",
		"pass --policy with a policy that has a tdx / snp section for each technology"}
	CheckPolicyDebug = Check{"CC051", "attestation-debug-forbidden",
		"attestation policies forbid debug guests",
		"remove any debug switch; debug TDs / SNP guests must never pass attestation"}
	CheckPolicyRoots = Check{"CC052", "attestation-vendor-roots",
		"policies trust vendor roots; the simulated test PKI is an error outside --simulation",
		"set trustRoots: [vendor]"}
	CheckPolicyMeasurements = Check{"CC053", "attestation-measurements",
		"each TEE section has a non-empty allowlist of real (non-placeholder) measurements",
		"add the node image's measurements (MRTD / launch measurement) to allowedMeasurements"}
	CheckPolicyStrength = Check{"CC055", "attestation-policy-strength",
		"the policy leaves none of the known holes open (RTMR0-2 of a TDX image, TCB, revocations, nonces, Azure vTPM PCRs)",
		"pin what the warning names (see fixtures/policies/*-hardware.yaml); a hardware run (cctest run --tee) refuses a weak policy"}
	CheckAttestationEgress = Check{"CC054", "attestation-egress",
		"with NetworkPolicies, confidential pods may reach the attestation service",
		"add an egress rule allowing the confidential pods to reach the attestation service (see fixtures/reference/network-policies.yaml)"}

	CheckTenancy = Check{"CC060", "tenancy-dedicated-nodes",
		"confidential node types are not shared by several tenants (strongest isolation: one tenant per private node)",
		"use private nodes and give each tenant its own node type / pool"}
)

// AllChecks lists every check in ID order.
func AllChecks() []Check {
	cs := []Check{CheckVClusterValid, CheckVClusterSchema, CheckInputsValid, CheckVClusterVersion,
		CheckAutoNodesArray, CheckRequirements, CheckProviderUnique, CheckPoolUnique, CheckStaticQuantity, CheckProviderExists, CheckPrivateNodesOn, CheckPrivateNodesMode,
		CheckSelectorMatches, CheckConfidentialProperty, CheckWorkloadSelector, CheckNodeTypeResources, CheckMetal3Image,
		CheckRuntimeClassHandler, CheckRuntimeClassSyncSelector, CheckSyncPrivateNodes, CheckWorkloadRuntimeClass, CheckRuntimeClassOverride,
		CheckCloudVMRuntimeClass, CheckPodRuntimeClass, CheckContainerdJoin, CheckRuntimeClassPatches, CheckTenantOnlyClassShared,
		CheckCloudZone, CheckCloudMaintenance,
		CheckPolicyCoverage, CheckPolicyDebug, CheckPolicyRoots, CheckPolicyMeasurements, CheckPolicyStrength, CheckAttestationEgress,
		CheckTenancy}
	sort.Slice(cs, func(i, j int) bool { return cs[i].ID < cs[j].ID })
	return cs
}
