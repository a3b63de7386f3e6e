package config

import (
	"maps"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmtv1 "github.com/cctest/cctest/api/management/v1"
)

// Opaque is a vcluster.yaml section the harness does not interpret; any
// content is accepted there (the chart schema check, if requested, still
// validates it).
type Opaque = any

// VCluster is the vcluster.yaml model. The sections the harness uses are
// typed in detail and parsed strictly; every other top-level key of the
// vCluster chart is accepted as opaque. A key that is neither is an error.
type VCluster struct {
	Sync         *Sync         `json:"sync,omitempty"`
	PrivateNodes *PrivateNodes `json:"privateNodes,omitempty"`
	Experimental *Experimental `json:"experimental,omitempty"`

	// Top-level keys of the vCluster chart schema (v0.36) kept opaque.
	Global           Opaque `json:"global,omitempty"`
	ExportKubeConfig Opaque `json:"exportKubeConfig,omitempty"`
	Integrations     Opaque `json:"integrations,omitempty"`
	Deploy           Opaque `json:"deploy,omitempty"`
	Networking       Opaque `json:"networking,omitempty"`
	Policies         Opaque `json:"policies,omitempty"`
	ControlPlane     Opaque `json:"controlPlane,omitempty"`
	RBAC             Opaque `json:"rbac,omitempty"`
	Plugins          Opaque `json:"plugins,omitempty"`
	Telemetry        Opaque `json:"telemetry,omitempty"`
	ServiceCIDR      Opaque `json:"serviceCIDR,omitempty"`
	Pro              Opaque `json:"pro,omitempty"`
	Plugin           Opaque `json:"plugin,omitempty"`
	Logging          Opaque `json:"logging,omitempty"`
	Sleep            Opaque `json:"sleep,omitempty"`
	Snapshots        Opaque `json:"snapshots,omitempty"`
	Deletion         Opaque `json:"deletion,omitempty"`
	Platform         Opaque `json:"platform,omitempty"`
}

// Sync is `sync`.
type Sync struct {
	ToHost   *SyncToHost   `json:"toHost,omitempty"`
	FromHost *SyncFromHost `json:"fromHost,omitempty"`
}

// SyncToHost is `sync.toHost`; only pods is typed.
type SyncToHost struct {
	Pods                   *SyncPods `json:"pods,omitempty"`
	Secrets                Opaque    `json:"secrets,omitempty"`
	ConfigMaps             Opaque    `json:"configMaps,omitempty"`
	Ingresses              Opaque    `json:"ingresses,omitempty"`
	GatewayAPI             Opaque    `json:"gatewayApi,omitempty"`
	Services               Opaque    `json:"services,omitempty"`
	Endpoints              Opaque    `json:"endpoints,omitempty"`
	EndpointSlices         Opaque    `json:"endpointSlices,omitempty"`
	NetworkPolicies        Opaque    `json:"networkPolicies,omitempty"`
	PersistentVolumeClaims Opaque    `json:"persistentVolumeClaims,omitempty"`
	PersistentVolumes      Opaque    `json:"persistentVolumes,omitempty"`
	VolumeSnapshots        Opaque    `json:"volumeSnapshots,omitempty"`
	VolumeSnapshotContents Opaque    `json:"volumeSnapshotContents,omitempty"`
	StorageClasses         Opaque    `json:"storageClasses,omitempty"`
	ServiceAccounts        Opaque    `json:"serviceAccounts,omitempty"`
	PodDisruptionBudgets   Opaque    `json:"podDisruptionBudgets,omitempty"`
	PriorityClasses        Opaque    `json:"priorityClasses,omitempty"`
	CustomResources        Opaque    `json:"customResources,omitempty"`
	Namespaces             Opaque    `json:"namespaces,omitempty"`
	ResourceClaims         Opaque    `json:"resourceClaims,omitempty"`
	ResourceClaimTemplates Opaque    `json:"resourceClaimTemplates,omitempty"`
}

// SyncPods is `sync.toHost.pods`. RuntimeClassName, when set, overrides the
// runtimeClassName of every synced pod (shared nodes only).
type SyncPods struct {
	Enabled               *bool  `json:"enabled,omitempty"`
	RuntimeClassName      string `json:"runtimeClassName,omitempty"`
	TranslateImage        Opaque `json:"translateImage,omitempty"`
	EnforceTolerations    Opaque `json:"enforceTolerations,omitempty"`
	UseSecretsForSATokens Opaque `json:"useSecretsForSATokens,omitempty"`
	PriorityClassName     Opaque `json:"priorityClassName,omitempty"`
	RewriteHosts          Opaque `json:"rewriteHosts,omitempty"`
	Patches               Opaque `json:"patches,omitempty"`
	HybridScheduling      Opaque `json:"hybridScheduling,omitempty"`
}

// SyncFromHost is `sync.fromHost`; only runtimeClasses is typed.
type SyncFromHost struct {
	RuntimeClasses        *RuntimeClassSync `json:"runtimeClasses,omitempty"`
	Nodes                 Opaque            `json:"nodes,omitempty"`
	Events                Opaque            `json:"events,omitempty"`
	IngressClasses        Opaque            `json:"ingressClasses,omitempty"`
	GatewayClasses        Opaque            `json:"gatewayClasses,omitempty"`
	Gateways              Opaque            `json:"gateways,omitempty"`
	PriorityClasses       Opaque            `json:"priorityClasses,omitempty"`
	StorageClasses        Opaque            `json:"storageClasses,omitempty"`
	CSINodes              Opaque            `json:"csiNodes,omitempty"`
	CSIDrivers            Opaque            `json:"csiDrivers,omitempty"`
	CSIStorageCapacities  Opaque            `json:"csiStorageCapacities,omitempty"`
	CustomResources       Opaque            `json:"customResources,omitempty"`
	VolumeSnapshotClasses Opaque            `json:"volumeSnapshotClasses,omitempty"`
	ConfigMaps            Opaque            `json:"configMaps,omitempty"`
	Secrets               Opaque            `json:"secrets,omitempty"`
	DeviceClasses         Opaque            `json:"deviceClasses,omitempty"`
}

// RuntimeClassSync is `sync.fromHost.runtimeClasses`. An empty or absent
// selector syncs every host RuntimeClass.
type RuntimeClassSync struct {
	Enabled  bool                  `json:"enabled,omitempty"`
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	Patches  []TranslatePatch      `json:"patches,omitempty"`
}

// TranslatePatch is one sync patch (vCluster Pro).
type TranslatePatch struct {
	Path              string `json:"path"`
	Expression        string `json:"expression,omitempty"`
	ReverseExpression string `json:"reverseExpression,omitempty"`
	Reference         Opaque `json:"reference,omitempty"`
	Labels            Opaque `json:"labels,omitempty"`
}

// PrivateNodes is `privateNodes`.
type PrivateNodes struct {
	Enabled        bool        `json:"enabled,omitempty"`
	AutoNodes      []AutoNodes `json:"autoNodes,omitempty"`
	JoinNode       *JoinNode   `json:"joinNode,omitempty"`
	Kubelet        Opaque      `json:"kubelet,omitempty"`
	AutoUpgrade    Opaque      `json:"autoUpgrade,omitempty"`
	VPN            Opaque      `json:"vpn,omitempty"`
	Daemon         Opaque      `json:"daemon,omitempty"`
	DefaultProfile string      `json:"defaultProfile,omitempty"`
}

// JoinNode is `privateNodes.joinNode`.
type JoinNode struct {
	Containerd         *ContainerdJoin `json:"containerd,omitempty"`
	PreInstallCommands []string        `json:"preInstallCommands,omitempty"`
	PreJoinCommands    []string        `json:"preJoinCommands,omitempty"`
	PostJoinCommands   []string        `json:"postJoinCommands,omitempty"`
	CACertPath         string          `json:"caCertPath,omitempty"`
	SkipPhases         []string        `json:"skipPhases,omitempty"`
	NodeRegistration   Opaque          `json:"nodeRegistration,omitempty"`
}

// ContainerdJoin is `privateNodes.joinNode.containerd`; Enabled defaults to true.
type ContainerdJoin struct {
	Enabled    *bool  `json:"enabled,omitempty"`
	Registry   Opaque `json:"registry,omitempty"`
	PauseImage string `json:"pauseImage,omitempty"`
}

// AutoNodes is one `privateNodes.autoNodes[]` entry: the pools of one provider.
type AutoNodes struct {
	Provider   string            `json:"provider"`
	Properties map[string]string `json:"properties,omitempty"`
	Static     []StaticPool      `json:"static,omitempty"`
	Dynamic    []DynamicPool     `json:"dynamic,omitempty"`
}

// StaticPool is a fixed-size pool.
type StaticPool struct {
	Name                   string               `json:"name"`
	Properties             map[string]string    `json:"properties,omitempty"`
	NodeTypeSelector       []mgmtv1.Requirement `json:"nodeTypeSelector,omitempty"`
	Taints                 []Taint              `json:"taints,omitempty"`
	NodeLabels             map[string]string    `json:"nodeLabels,omitempty"`
	Quantity               *int                 `json:"quantity,omitempty"`
	TerminationGracePeriod string               `json:"terminationGracePeriod,omitempty"`
	Profile                string               `json:"profile,omitempty"`
}

// DynamicPool is a pool scaled by demand (Karpenter NodePool).
type DynamicPool struct {
	Name                   string               `json:"name"`
	Properties             map[string]string    `json:"properties,omitempty"`
	NodeTypeSelector       []mgmtv1.Requirement `json:"nodeTypeSelector,omitempty"`
	Taints                 []Taint              `json:"taints,omitempty"`
	NodeLabels             map[string]string    `json:"nodeLabels,omitempty"`
	Limits                 map[string]string    `json:"limits,omitempty"`
	Disruption             *Disruption          `json:"disruption,omitempty"`
	TerminationGracePeriod string               `json:"terminationGracePeriod,omitempty"`
	ExpireAfter            string               `json:"expireAfter,omitempty"`
	Weight                 *int                 `json:"weight,omitempty"`
	Profile                string               `json:"profile,omitempty"`
}

// Disruption is Karpenter's disruption block of a dynamic pool.
type Disruption struct {
	ConsolidateAfter    string `json:"consolidateAfter,omitempty"`
	ConsolidationPolicy string `json:"consolidationPolicy,omitempty"`
	Budgets             Opaque `json:"budgets,omitempty"`
}

// Taint is a join taint of a pool.
type Taint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"`
}

// Experimental is `experimental`; only deploy.vcluster is typed.
type Experimental struct {
	Deploy                   *ExperimentalDeploy `json:"deploy,omitempty"`
	SyncSettings             Opaque              `json:"syncSettings,omitempty"`
	VirtualClusterKubeConfig Opaque              `json:"virtualClusterKubeConfig,omitempty"`
	DenyProxyRequests        Opaque              `json:"denyProxyRequests,omitempty"`
	Proxy                    Opaque              `json:"proxy,omitempty"`
	Docker                   Opaque              `json:"docker,omitempty"`
	NodeMonitors             Opaque              `json:"nodeMonitors,omitempty"`
}

// ExperimentalDeploy is `experimental.deploy`.
type ExperimentalDeploy struct {
	Host     Opaque          `json:"host,omitempty"`
	VCluster *DeployVCluster `json:"vcluster,omitempty"`
}

// DeployVCluster is `experimental.deploy.vcluster`: manifests applied inside
// the tenant (a multi-document YAML string), a template of them, and charts.
type DeployVCluster struct {
	Manifests         string `json:"manifests,omitempty"`
	ManifestsTemplate string `json:"manifestsTemplate,omitempty"`
	Helm              Opaque `json:"helm,omitempty"`
}

// Pool is a static or dynamic pool seen uniformly, with its YAML path.
type Pool struct {
	Provider         string
	Name             string
	Static           bool
	Path             string // e.g. privateNodes.autoNodes[0].dynamic[1]
	NodeTypeSelector []mgmtv1.Requirement
	NodeLabels       map[string]string
	Taints           []Taint
	// Properties go onto the pool's NodeClaims: the autoNodes entry's, then
	// the pool's own (vCluster main) over them.
	Properties map[string]string
}

// Pools lists every pool of every autoNodes entry.
func (v *VCluster) Pools() []Pool {
	if v.PrivateNodes == nil {
		return nil
	}
	var out []Pool
	for i := range v.PrivateNodes.AutoNodes {
		out = append(out, v.PrivateNodes.AutoNodes[i].pools(indexPath("privateNodes.autoNodes", i))...)
	}
	return out
}

// pools lists the pools of one autoNodes entry found at path base.
func (an *AutoNodes) pools(base string) []Pool {
	out := make([]Pool, 0, len(an.Static)+len(an.Dynamic))
	for j, p := range an.Static {
		out = append(out, Pool{Provider: an.Provider, Name: p.Name, Static: true, Path: indexPath(base+".static", j),
			NodeTypeSelector: p.NodeTypeSelector, NodeLabels: p.NodeLabels, Taints: p.Taints, Properties: merged(an.Properties, p.Properties)})
	}
	for j, p := range an.Dynamic {
		out = append(out, Pool{Provider: an.Provider, Name: p.Name, Path: indexPath(base+".dynamic", j),
			NodeTypeSelector: p.NodeTypeSelector, NodeLabels: p.NodeLabels, Taints: p.Taints, Properties: merged(an.Properties, p.Properties)})
	}
	return out
}

// merged returns the keys of both maps, over's values winning (nil when both are empty).
func merged(base, over map[string]string) map[string]string {
	if len(base)+len(over) == 0 {
		return nil
	}
	out := make(map[string]string, len(base)+len(over))
	maps.Copy(out, base)
	maps.Copy(out, over)
	return out
}

// PrivateNodesEnabled reports privateNodes.enabled.
func (v *VCluster) PrivateNodesEnabled() bool { return v.PrivateNodes != nil && v.PrivateNodes.Enabled }

// RuntimeClassSync returns sync.fromHost.runtimeClasses (nil if absent).
func (v *VCluster) RuntimeClassSync() *RuntimeClassSync {
	if v.Sync == nil || v.Sync.FromHost == nil {
		return nil
	}
	return v.Sync.FromHost.RuntimeClasses
}

// ContainerdManagedAtJoin reports privateNodes.joinNode.containerd.enabled (default true).
func (v *VCluster) ContainerdManagedAtJoin() bool {
	if v.PrivateNodes == nil || v.PrivateNodes.JoinNode == nil || v.PrivateNodes.JoinNode.Containerd == nil ||
		v.PrivateNodes.JoinNode.Containerd.Enabled == nil {
		return true
	}
	return *v.PrivateNodes.JoinNode.Containerd.Enabled
}

// TenantManifests returns experimental.deploy.vcluster.manifests ("" if absent).
func (v *VCluster) TenantManifests() string {
	if v.Experimental == nil || v.Experimental.Deploy == nil || v.Experimental.Deploy.VCluster == nil {
		return ""
	}
	return v.Experimental.Deploy.VCluster.Manifests
}
