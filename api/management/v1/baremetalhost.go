package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Metal3 BareMetalHost: only the fields the harness uses are typed. The CRD
// keeps unknown spec and status fields (x-kubernetes-preserve-unknown-fields),
// so a simulator may carry more (e.g. a description of the simulated
// machine) and read it through unstructured access.
const (
	Metal3Group          = "metal3.io"
	Metal3Version        = "v1alpha1"
	KindBareMetalHost    = "BareMetalHost"
	BareMetalHostsPlural = "baremetalhosts"
)

// Metal3GroupVersion is metal3.io/v1alpha1.
var Metal3GroupVersion = schema.GroupVersion{Group: Metal3Group, Version: Metal3Version}

// BareMetalHostResource is the dynamic-client resource of BareMetalHost.
var BareMetalHostResource = Metal3GroupVersion.WithResource(BareMetalHostsPlural)

// BareMetalHost is one physical server; its labels are the inventory that
// metal3 node types select.
type BareMetalHost struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BareMetalHostSpec   `json:"spec,omitempty"`
	Status BareMetalHostStatus `json:"status,omitempty"`
}

// BareMetalHostSpec is the typed subset of the metal3 spec.
type BareMetalHostSpec struct {
	Online         bool                    `json:"online"`
	BootMACAddress string                  `json:"bootMACAddress,omitempty"`
	BMC            *BMCDetails             `json:"bmc,omitempty"`
	ConsumerRef    *corev1.ObjectReference `json:"consumerRef,omitempty"`
}

// BMCDetails is how the host's management controller is reached.
type BMCDetails struct {
	Address                        string `json:"address"`
	CredentialsName                string `json:"credentialsName"`
	DisableCertificateVerification bool   `json:"disableCertificateVerification,omitempty"`
}

// BareMetalHostStatus is the typed subset of the metal3 status.
type BareMetalHostStatus struct {
	OperationalStatus string             `json:"operationalStatus,omitempty"`
	PoweredOn         bool               `json:"poweredOn,omitempty"`
	Provisioning      *ProvisioningState `json:"provisioning,omitempty"`
	// Hardware is what inspection found (nil before inspection).
	Hardware *HardwareDetails `json:"hardware,omitempty"`
}

// HardwareDetails is the typed subset of metal3's inspected hardware.
type HardwareDetails struct {
	CPU          HardwareCPU `json:"cpu,omitempty"`
	RAMMebibytes int         `json:"ramMebibytes,omitempty"`
}

// HardwareCPU counts the host's CPUs.
type HardwareCPU struct {
	Count int `json:"count,omitempty"`
}

// StateAvailable is metal3's provisioning state of an inspected host ready
// to be provisioned.
const StateAvailable = "available"

// Available reports whether the host is ready for a new claim.
func (h *BareMetalHost) Available() bool {
	return h.Status.Provisioning != nil && h.Status.Provisioning.State == StateAvailable
}

// Holds reports whether the host's inspected hardware covers the CPU and
// memory of res (an uninspected host holds nothing).
func (h *BareMetalHost) Holds(res corev1.ResourceList) bool {
	hw := h.Status.Hardware
	if hw == nil {
		return false
	}
	if cpu, ok := res[corev1.ResourceCPU]; ok && cpu.MilliValue() > int64(hw.CPU.Count)*1000 {
		return false
	}
	if mem, ok := res[corev1.ResourceMemory]; ok && mem.Value() > int64(hw.RAMMebibytes)<<20 {
		return false
	}
	return true
}

// ProvisioningState is metal3's provisioning progress (state: available, provisioned, ...).
type ProvisioningState struct {
	State string `json:"state,omitempty"`
}
