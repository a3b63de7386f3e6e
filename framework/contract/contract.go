// Package contract is the list of every signal a spec may read — label and
// annotation keys, event reasons, API resources — each with where it comes
// from. A spec that waits for a signal no real platform emits fails a
// correct platform (or passes with nothing checked), so tests hold the
// suites and the embedded simulators to this list: a spec may read only
// what is here, and a simulator may emit only what is here.
package contract

import "strings"

// Source is who defines a signal.
type Source string

const (
	// Kubernetes: the API server, scheduler, kubelet, well-known labels.
	Kubernetes Source = "Kubernetes"
	// VCluster: vCluster or vCluster Platform, from source or docs (Karpenter
	// inside the platform included).
	VCluster Source = "vCluster / vCluster Platform"
	// CoCo: Kata Containers and Confidential Containers (guest components,
	// Trustee), from source or docs.
	CoCo Source = "Kata Containers / Confidential Containers"
	// Reference: keys cctest's reference configuration chooses (node type
	// properties, which vCluster turns into node labels); a user's own
	// configuration may name others.
	Reference Source = "cctest reference configuration"
	// Cctest: cctest's shipped node-side components (cctest gate, the probe).
	Cctest Source = "cctest node components"
	// HostComponents: what a bare-metal host's own components publish about
	// it: node-feature-discovery (nfd-worker) and kata-deploy.
	HostComponents Source = "node-feature-discovery / kata-deploy on the host"
	// Spec: labels a spec puts on its own objects.
	Spec Source = "the spec's own objects"
	// Pending: a signal only cctest's simulator emits, still read by a spec
	// until the issue named in Ref replaces it. Listed so that it is visible.
	Pending Source = "cctest simulator only (to be replaced)"
	// Simulator: the simulator's own bookkeeping. No spec may read it.
	Simulator Source = "cctest simulator bookkeeping"
)

// Kind is what sort of signal it is.
type Kind string

const (
	Label       Kind = "label key"
	Annotation  Kind = "annotation key"
	EventReason Kind = "event reason"
	Resource    Kind = "API resource"
)

// Signal is one entry of the contract.
type Signal struct {
	Kind   Kind
	Name   string
	Source Source
	Ref    string // where it is defined: a source file, a doc page, an issue
}

// Signals is the contract.
var Signals = []Signal{
	// Node labels (node type properties become labels; vCluster docs, "Node types").
	{Label, "vcluster.com/node-type", VCluster, "vcluster-docs: auto nodes, built-in properties"},
	{Label, "node.kubernetes.io/instance-type", VCluster, "vcluster-docs: auto nodes, built-in properties"},
	{Label, "topology.kubernetes.io/zone", VCluster, "vcluster-docs: auto nodes, built-in properties (global when unset)"},
	{Label, "topology.kubernetes.io/region", Kubernetes, "kubernetes.io/docs/reference/labels-annotations-taints"},
	{Label, "karpenter.sh/capacity-type", VCluster, "vcluster-docs: auto nodes, built-in properties (on-demand)"},
	{Label, "confidential-compute", Reference, "fixtures/reference/node-provider.yaml (the seed's key)"},
	{Label, "cctest.dev/pool", Reference, "fixtures/reference/node-provider.yaml"},
	{Label, "cctest.dev/cores", Reference, "fixtures/reference/node-provider.yaml"},
	{Label, "cctest.dev/on-host-maintenance", Reference, "fixtures/reference/node-provider-cloud.yaml (GCP on_host_maintenance)"},
	{Label, "cctest.dev/secure-boot", Reference, "fixtures/reference/node-provider-cloud.yaml (Shielded VM enable_secure_boot)"},
	{Label, "cctest.dev/vtpm", Reference, "fixtures/reference/node-provider-cloud.yaml (Shielded VM enable_vtpm)"},
	{Label, "cctest.dev/confidential-path", Reference, "fixtures/reference/node-provider.yaml"},
	// Host capability of bare-metal Kata hosts (never evidence).
	{Label, "feature.node.kubernetes.io/cpu-security.tdx.enabled", HostComponents, "NFD cpu source: /sys/module/kvm_intel/parameters/tdx is Y (kubernetes-sigs.github.io/node-feature-discovery usage/features)"},
	{Label, "feature.node.kubernetes.io/cpu-security.sev.snp.enabled", HostComponents, "NFD cpu source: /sys/module/kvm_amd/parameters/sev_snp is Y (same page)"},
	{Label, "katacontainers.io/kata-runtime", HostComponents, "kata-deploy: set on nodes it installed the Kata runtimes on"},
	{Label, "feature.node.kubernetes.io/cctest-tdx-quote-path", Cctest, "NFD local source, from the features.d file `cctest attest --host --nfd-features` writes (QGS socket and PCCS answered)"},
	{Label, "vcluster.loft.sh/controlled-by", VCluster, "vcluster pkg/syncer/translator: exempts an object from sync"},
	{Label, "app", Spec, "suites: anti-affinity groups"},
	{Label, "cctest.dev/revision", Spec, "suites/runtimeclass_sync.go: a host class change the copy must follow"},
	{Label, "cctest.dev/owner", Spec, "suites/runtimeclass_sync.go: marks the tenant's own class"},

	// Pod annotations a spec sets.
	{Annotation, "io.katacontainers.config.hypervisor.kernel_params", CoCo, "Kata Containers: extra guest kernel parameters (agent.guest_components_rest_api=all turns on the CoCo guest API's /aa endpoints)"},

	// Node annotations.
	{Annotation, "attestation.cctest.dev/gate", Cctest, "attest/gatetrace: written by cctest gate --annotate-node"},

	// Events on pods.
	{EventReason, "FailedScheduling", Kubernetes, "kube-scheduler; Karpenter (vcluster-docs: auto nodes) uses the same reason"},
	{EventReason, "FailedCreatePodSandBox", Kubernetes, "kubelet: no runtime handler for the RuntimeClass"},
	{EventReason, "Failed", Kubernetes, "kubelet: a container it could not create (\"Error: ...\"; the container waits in CreateContainerError), e.g. a CoCo guest that could not unseal a secret"},
	{EventReason, "Scheduled", Kubernetes, "kube-scheduler"},
	{EventReason, "Pulled", Kubernetes, "kubelet"},
	{EventReason, "Created", Kubernetes, "kubelet"},
	{EventReason, "Started", Kubernetes, "kubelet"},
	{EventReason, "Killing", Kubernetes, "kubelet"},
	{EventReason, "SyncWarning", VCluster, "vcluster pods syncer: a pod whose RuntimeClass has no host twin"},

	// Events on nodes (kubelet, node lifecycle controller).
	{EventReason, "Starting", Kubernetes, "kubelet"},
	{EventReason, "NodeReady", Kubernetes, "kubelet"},
	{EventReason, "NodeNotReady", Kubernetes, "node lifecycle controller"},
	{EventReason, "RegisteredNode", Kubernetes, "node lifecycle controller"},
	{EventReason, "RemovingNode", Kubernetes, "node lifecycle controller"},
	{EventReason, "NodeHasSufficientMemory", Kubernetes, "kubelet"},

	// Events the simulated platform writes on its own objects (NodeClaims):
	// the real platform's reasons are undocumented, so no spec reads them.
	{EventReason, "Joined", Simulator, "simulators/platform/boot.go"},
	{EventReason, "AttestationFailed", Simulator, "simulators/platform/boot.go: a NodeClaim its gate refused"},
	{EventReason, "HostCheckFailed", Simulator, "simulators/platform/boot.go: a bare-metal host refused by the capability check"},
	// The simulated inventory's marks on its BareMetalHosts.
	{Annotation, "cctest.dev/node-image", Simulator, "simulators/platform/inventory.go"},
	{Annotation, "cctest.dev/quarantined", Simulator, "simulators/platform/inventory.go"},

	// API resources.
	{Resource, "nodetypes.management.loft.sh", VCluster, "loft-sh/api pkg/apis/management/v1 NodeType"},
	{Resource, "nodeclaims.management.loft.sh", VCluster, "loft-sh/api pkg/apis/management/v1 NodeClaim"},
	{Resource, "nodeproviders.management.loft.sh", VCluster, "loft-sh/api pkg/apis/management/v1 NodeProvider"},
	{Resource, "baremetalhosts.metal3.io", VCluster, "metal3 BareMetalHost, the metal3 node provider's inventory"},
}

// Lookup finds a signal of a kind by name.
func Lookup(kind Kind, name string) (Signal, bool) {
	for _, s := range Signals {
		if s.Kind == kind && s.Name == name {
			return s, true
		}
	}
	return Signal{}, false
}

// Readable says whether a spec may read the signal: listed, and not the
// simulator's own bookkeeping. Well-known Kubernetes keys (under
// kubernetes.io and k8s.io) are Kubernetes' by definition.
func Readable(kind Kind, name string) (Signal, bool) {
	if s, ok := Lookup(kind, name); ok {
		return s, s.Source != Simulator
	}
	if (kind == Label || kind == Annotation) && kubernetesKey(name) {
		return Signal{kind, name, Kubernetes, "kubernetes.io/docs/reference/labels-annotations-taints"}, true
	}
	return Signal{}, false
}

// Emittable says whether a simulator may emit the signal: anything listed,
// including its own bookkeeping.
func Emittable(kind Kind, name string) bool {
	if _, ok := Lookup(kind, name); ok {
		return true
	}
	return (kind == Label || kind == Annotation) && kubernetesKey(name)
}

func kubernetesKey(name string) bool {
	prefix, _, ok := strings.Cut(name, "/")
	if !ok {
		return false
	}
	for _, d := range []string{"kubernetes.io", "k8s.io"} {
		if prefix == d || strings.HasSuffix(prefix, "."+d) {
			return true
		}
	}
	return false
}
