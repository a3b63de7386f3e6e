package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Group and version of the vCluster Platform management API.
const (
	Group   = "management.loft.sh"
	Version = "v1"
)

// SchemeGroupVersion is management.loft.sh/v1.
var SchemeGroupVersion = schema.GroupVersion{Group: Group, Version: Version}

// Resources served for the three platform kinds (used with the dynamic client).
var (
	NodeProviderResource = SchemeGroupVersion.WithResource("nodeproviders")
	NodeTypeResource     = SchemeGroupVersion.WithResource("nodetypes")
	NodeClaimResource    = SchemeGroupVersion.WithResource("nodeclaims")
)

// Kinds.
const (
	KindNodeProvider = "NodeProvider"
	KindNodeType     = "NodeType"
	KindNodeClaim    = "NodeClaim"
)

// Phase is the lifecycle phase shared by NodeProvider, NodeType and NodeClaim.
type Phase string

const (
	PhasePending   Phase = "Pending"
	PhaseAvailable Phase = "Available"
	PhaseFailed    Phase = "Failed"
)

// Severity of a Condition (vCluster Platform's condition model, not metav1's).
type Severity string

const (
	SeverityError   Severity = "Error"
	SeverityWarning Severity = "Warning"
	SeverityInfo    Severity = "Info"
)

// Condition is the platform's condition: metav1-like plus a severity, which
// is set only when Status is False.
type Condition struct {
	Type               string                 `json:"type"`
	Status             corev1.ConditionStatus `json:"status"`
	Severity           Severity               `json:"severity,omitempty"`
	LastTransitionTime metav1.Time            `json:"lastTransitionTime,omitzero"`
	Reason             string                 `json:"reason,omitempty"`
	Message            string                 `json:"message,omitempty"`
}

// Condition types per kind (loft-sh/api storage/v1 *_types.go).
const (
	// NodeProvider
	ConditionInitialized = "Initialized"
	ConditionDeployed    = "Deployed"
	// NodeType
	ConditionSynced      = "Synced"
	ConditionHasCapacity = "HasCapacity"
	// NodeClaim
	ConditionScheduled         = "Scheduled"
	ConditionProvisioned       = "Provisioned"
	ConditionJoined            = "Joined"
	ConditionNotDrifted        = "NotDrifted"
	ConditionDestroyed         = "Destroyed"
	ConditionPreferredDeletion = "PreferredDeletion"
)

// ---- NodeProvider (cluster-scoped) ----

// NodeProvider declares where nodes come from and which node types it offers.
type NodeProvider struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   NodeProviderSpec   `json:"spec,omitempty"`
	Status NodeProviderStatus `json:"status,omitempty"`
}

// NodeProviderSpec: exactly one of the provider blocks is set.
type NodeProviderSpec struct {
	// Properties apply to every node claim of this provider.
	Properties  map[string]string `json:"properties,omitempty"`
	DisplayName string            `json:"displayName,omitempty"`

	BCM        *BCMProvider        `json:"bcm,omitempty"`
	KubeVirt   *KubeVirtProvider   `json:"kubeVirt,omitempty"`
	Terraform  *TerraformProvider  `json:"terraform,omitempty"`
	ClusterAPI *ClusterAPIProvider `json:"clusterAPI,omitempty"`
	Metal3     *Metal3Provider     `json:"metal3,omitempty"`
}

// NodeProviderStatus is the observed state of a NodeProvider.
type NodeProviderStatus struct {
	Phase      Phase       `json:"phase,omitempty"`
	Reason     string      `json:"reason,omitempty"`
	Message    string      `json:"message,omitempty"`
	Conditions []Condition `json:"conditions,omitempty"`
}

// Opaque is a provider template (Terraform, Cluster API, KubeVirt objects)
// the harness carries but does not interpret.
type Opaque = map[string]interface{}

// ClusterRef names the connected cluster (and namespace) a provider works in.
// metal3 needs the namespace (where its BareMetalHosts live); see Validate.
type ClusterRef struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace,omitempty"`
}

// NamespacedRef points at a namespaced object, e.g. a credentials Secret.
type NamespacedRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

// NodeTypeDefinition is the part every provider's inline node type shares
// (the platform's NamedNodeTypeSpec).
type NodeTypeDefinition struct {
	Name        string              `json:"name"`
	DisplayName string              `json:"displayName,omitempty"`
	Properties  map[string]string   `json:"properties,omitempty"`
	Resources   corev1.ResourceList `json:"resources,omitempty"`
	Overhead    *NodeTypeOverhead   `json:"overhead,omitempty"`
	// Cost 0 (unset) means computed, see CostOf.
	Cost     int64                   `json:"cost,omitempty"`
	Metadata *NodeTypeObjectMetadata `json:"metadata,omitempty"`
}

// NodeTypeOverhead is what a node of the type reserves for itself.
type NodeTypeOverhead struct {
	KubeReserved corev1.ResourceList `json:"kubeReserved,omitempty"`
}

// NodeTypeObjectMetadata is added to the NodeType object the provider creates.
type NodeTypeObjectMetadata struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Metal3Provider offers bare-metal capacity from metal3 BareMetalHosts.
type Metal3Provider struct {
	ClusterRef ClusterRef       `json:"clusterRef"`
	Deploy     Opaque           `json:"deploy,omitempty"`
	NodeTypes  []Metal3NodeType `json:"nodeTypes,omitempty"`
}

// Metal3NodeType is a node type backed by the BareMetalHosts its selector matches;
// its capacity is the number of matching hosts.
type Metal3NodeType struct {
	NodeTypeDefinition `json:",inline"`
	BareMetalHosts     Metal3BareMetalHosts `json:"bareMetalHosts,omitempty"`
}

// Metal3BareMetalHosts selects the hosts of a metal3 node type.
type Metal3BareMetalHosts struct {
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// TerraformProvider provisions nodes with Terraform templates (cloud VMs).
type TerraformProvider struct {
	NodeTemplate            Opaque              `json:"nodeTemplate,omitempty"`
	NodeEnvironmentTemplate Opaque              `json:"nodeEnvironmentTemplate,omitempty"`
	NodeTypes               []TerraformNodeType `json:"nodeTypes,omitempty"`
}

// TerraformNodeType is a Terraform-provisioned node type.
type TerraformNodeType struct {
	NodeTypeDefinition `json:",inline"`
	NodeTemplate       Opaque `json:"nodeTemplate,omitempty"`
	MaxCapacity        int    `json:"maxCapacity,omitempty"`
}

// ClusterAPIProvider provisions nodes as Cluster API machines.
type ClusterAPIProvider struct {
	ClusterRef                    ClusterRef           `json:"clusterRef,omitempty"`
	InfrastructureMachineTemplate Opaque               `json:"infrastructureMachineTemplate,omitempty"`
	BootstrapConfigTemplate       Opaque               `json:"bootstrapConfigTemplate,omitempty"`
	NodeTypes                     []ClusterAPINodeType `json:"nodeTypes,omitempty"`
}

// ClusterAPINodeType is a Cluster API node type.
type ClusterAPINodeType struct {
	NodeTypeDefinition                 `json:",inline"`
	InfrastructureMachineTemplate      Opaque `json:"infrastructureMachineTemplate,omitempty"`
	BootstrapConfigTemplate            Opaque `json:"bootstrapConfigTemplate,omitempty"`
	MergeInfrastructureMachineTemplate Opaque `json:"mergeInfrastructureMachineTemplate,omitempty"`
	MergeBootstrapConfigTemplate       Opaque `json:"mergeBootstrapConfigTemplate,omitempty"`
	MaxCapacity                        int    `json:"maxCapacity,omitempty"`
}

// KubeVirtProvider provisions nodes as KubeVirt virtual machines.
type KubeVirtProvider struct {
	ClusterRef             ClusterRef         `json:"clusterRef,omitempty"`
	Deploy                 Opaque             `json:"deploy,omitempty"`
	VirtualMachineTemplate Opaque             `json:"virtualMachineTemplate,omitempty"`
	NodeTypes              []KubeVirtNodeType `json:"nodeTypes"`
}

// KubeVirtNodeType is a KubeVirt node type.
type KubeVirtNodeType struct {
	NodeTypeDefinition          `json:",inline"`
	VirtualMachineTemplate      Opaque `json:"virtualMachineTemplate,omitempty"`
	MergeVirtualMachineTemplate Opaque `json:"mergeVirtualMachineTemplate,omitempty"`
	MaxCapacity                 int    `json:"maxCapacity,omitempty"`
}

// BCMProvider provisions nodes from an NVIDIA Base Command Manager head node.
type BCMProvider struct {
	SecretRef *NamespacedRef `json:"secretRef"`
	Endpoint  string         `json:"endpoint"`
	NodeTypes []BCMNodeType  `json:"nodeTypes,omitempty"`
}

// BCMNodeType is a BCM node type.
type BCMNodeType struct {
	NodeTypeDefinition `json:",inline"`
	Nodes              []string `json:"nodes,omitempty"`
	NodeGroups         []string `json:"nodeGroups,omitempty"`
}

// ---- NodeType (cluster-scoped) ----

// NodeType is one kind of node a provider can create.
type NodeType struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   NodeTypeSpec   `json:"spec,omitempty"`
	Status NodeTypeStatus `json:"status,omitempty"`
}

// NodeTypeSpec describes the type; properties become node labels.
type NodeTypeSpec struct {
	ProviderRef string              `json:"providerRef,omitempty"`
	Properties  map[string]string   `json:"properties,omitempty"`
	Resources   corev1.ResourceList `json:"resources,omitempty"`
	Overhead    *NodeTypeOverhead   `json:"overhead,omitempty"`
	// Cost 0 (unset) means computed, see CostOf.
	Cost        int64  `json:"cost,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

// NodeTypeStatus reports phase, the effective cost, capacity and the
// requirements a node of the type satisfies.
type NodeTypeStatus struct {
	Phase        Phase                            `json:"phase,omitempty"`
	Reason       string                           `json:"reason,omitempty"`
	Message      string                           `json:"message,omitempty"`
	Cost         int64                            `json:"cost,omitempty"`
	Capacity     NodeTypeCapacity                 `json:"capacity,omitempty"`
	Requirements []corev1.NodeSelectorRequirement `json:"requirements,omitempty"`
	Conditions   []Condition                      `json:"conditions,omitempty"`
}

// NodeTypeCapacity counts nodes: Total that can exist, Claimed in use.
type NodeTypeCapacity struct {
	Total   int `json:"total"`
	Claimed int `json:"claimed"`
}

// Free is the number of nodes still available.
func (c NodeTypeCapacity) Free() int {
	if c.Claimed >= c.Total {
		return 0
	}
	return c.Total - c.Claimed
}

// ---- NodeClaim (namespaced) ----

// NodeClaim asks a provider for one node of a type for a tenant cluster.
type NodeClaim struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   NodeClaimSpec   `json:"spec,omitempty"`
	Status NodeClaimStatus `json:"status,omitempty"`
}

// NodeClaimSpec: which provider/type, for which vCluster, with what
// requirements. Only the fields the harness uses are typed; the CRD accepts
// the platform's full list (owner, access, profileRef, power, ...).
type NodeClaimSpec struct {
	DisplayName    string            `json:"displayName,omitempty"`
	ProviderRef    string            `json:"providerRef"`
	TypeRef        string            `json:"typeRef,omitempty"`
	EnvironmentRef string            `json:"environmentRef,omitempty"`
	Properties     map[string]string `json:"properties,omitempty"`
	VClusterRef    string            `json:"vClusterRef,omitempty"`
	ControlPlane   bool              `json:"controlPlane"`
	Taints         []corev1.Taint    `json:"taints,omitempty"`
	StartupTaints  []corev1.Taint    `json:"startupTaints,omitempty"`
	KubeletArgs    map[string]string `json:"kubeletArgs,omitempty"`
	// Requirements use Kubernetes' shape (key, operator, values), not the
	// nodeTypeSelector's (property, value | values); see Requirement.NodeSelector.
	Requirements []corev1.NodeSelectorRequirement `json:"requirements,omitempty"`
}

// NodeClaimStatus reports progress through Scheduled, Provisioned, Joined.
type NodeClaimStatus struct {
	Phase      Phase       `json:"phase,omitempty"`
	Reason     string      `json:"reason,omitempty"`
	Message    string      `json:"message,omitempty"`
	Conditions []Condition `json:"conditions,omitempty"`
}
