package platform

import (
	"context"
	"fmt"
	"sort"

	"github.com/cctest/cctest/api/teename"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/simulators/tee"
)

// Annotations the simulated inventory puts on BareMetalHosts.
const (
	// AnnotationImage names the node image installed on the host.
	AnnotationImage = "cctest.dev/node-image"
	// AnnotationQuarantine carries why the node-join gate refused the host;
	// a quarantined host is never offered again.
	AnnotationQuarantine = "cctest.dev/quarantined"
)

// Machine is one bare-metal host of the simulated inventory: a
// BareMetalHost object in the host cluster plus, in memory, the hardware
// behind it (its TEE device), which specs can only reach through evidence.
type Machine struct {
	Name            string            // BareMetalHost name
	CPUs, MemoryMiB int               // inspected hardware
	Labels          map[string]string // BareMetalHost labels (node type selectors match these)
	Image           string            // node image name
	TEE             string            // "tdx", "sev-snp" or ""
	// NodeType is set for a cloud Confidential VM (see InventoryHost).
	NodeType string
	// Shielded VM features the CVM boots with (its node type's promise).
	SecureBoot, VTPM bool
	// The simulated cloud's bookkeeping of a CVM (guarded by Platform.mu).
	claimedBy string
	refused   bool
	// Device is the CPU's TEE: on a cloud CVM the node's own device; on a
	// bare-metal host what its Kata guests run on (they take its identity).
	Device tee.Machine // nil for a machine without a TEE
	// Faults are the TEE faults of this hardware, which its guests inherit.
	Faults []tee.Fault
	// Capability is what the host offers confidential guests.
	Capability HostCapability
}

// InventoryHost describes a host to put in the inventory.
type InventoryHost struct {
	Name   string
	Labels map[string]string
	Image  string
	TEE    string // "tdx", "sev-snp" or ""
	// Defects are the machine's own TEE faults (e.g. an unapproved image):
	// realistic inventories contain machines the gate must refuse.
	Defects []tee.Fault
	// CPUs and MemoryMiB are the inspected hardware (0 = the default,
	// 64 CPUs and 512 GiB, which holds every reference node type).
	CPUs, MemoryMiB int
	// NodeType makes the host a cloud Confidential VM of that node type
	// (a terraform-style provider's instance), not a BareMetalHost: the
	// simulated cloud hands these out in name order, one per NodeClaim.
	// The VM is the TEE guest, so its device measures its node image.
	NodeType string
	// SecureBoot and VTPM are the CVM's Shielded VM features.
	SecureBoot, VTPM bool
	// Capability overrides what the host offers guests (nil: its TEE's
	// host support, the TDX quote path and its image's Kata handlers).
	Capability *HostCapability
}

// Default hardware of an inventory host.
const (
	defaultHostCPUs      = 64
	defaultHostMemoryMiB = 512 << 10
)

// DefaultInventory is the reference datacenter: TDX and SEV-SNP hosts for
// the confidential node types and general hosts for the cpu types.
func DefaultInventory() []InventoryHost {
	var hosts []InventoryHost
	add := func(prefix string, n int, tech, pool, image string) {
		for i := 0; i < n; i++ {
			l := map[string]string{}
			if tech != "" {
				l[mgmt.PropertyConfidentialCompute] = tech
			}
			if pool != "" {
				l["cctest.dev/pool"] = pool
			}
			hosts = append(hosts, InventoryHost{Name: fmt.Sprintf("%s-%d", prefix, i), Labels: l, Image: image, TEE: tech})
		}
	}
	// A TDX host whose BIOS leaves TDX off: the capability check must
	// refuse it. Its name sorts first, so the first TDX claim always meets it.
	hosts = append(hosts, InventoryHost{Name: "tdx-a-rogue", Labels: map[string]string{mgmt.PropertyConfidentialCompute: teename.TDX},
		Image: "cc-node-tdx", TEE: teename.TDX, Capability: &HostCapability{QuotePath: true, Handlers: []string{"kata-qemu-tdx"}}})
	add("tdx-host", 4, teename.TDX, "", "cc-node-tdx")
	add("snp-host", 3, teename.SNP, "", "cc-node-snp")
	add("general-host", 5, "", "general", "general")
	return hosts
}

// DefaultCloudInventory is the reference cloud's Confidential VMs for the
// node types of fixtures/reference/node-provider-cloud.yaml, with Shielded
// VM secure boot and a vTPM as those types promise. One TDX VM booted an
// image the policy does not list (its name sorts first): its gate must
// refuse it and it must never join. The simulated cloud hands out VMs in
// name order, so the first TDX claim always meets it.
func DefaultCloudInventory() []InventoryHost {
	cvm := func(name, nodeType, tech, image string, defects ...tee.Fault) InventoryHost {
		return InventoryHost{Name: name, NodeType: nodeType, TEE: tech, Image: image, Defects: defects,
			Labels: map[string]string{mgmt.PropertyConfidentialCompute: tech}, CPUs: 4, MemoryMiB: 16 << 10, SecureBoot: true, VTPM: true}
	}
	return []InventoryHost{
		cvm("cvm-tdx-a-rogue", "c3-tdx", teename.TDX, "cvm-tdx", tee.FaultWrongMeasurement),
		cvm("cvm-tdx-vm-0", "c3-tdx", teename.TDX, "cvm-tdx"),
		cvm("cvm-tdx-vm-1", "c3-tdx", teename.TDX, "cvm-tdx"),
		cvm("cvm-tdx-vm-2", "c3-tdx", teename.TDX, "cvm-tdx"),
		cvm("cvm-snp-vm-0", "n2d-snp", teename.SNP, "cvm-snp"),
		cvm("cvm-snp-vm-1", "n2d-snp", teename.SNP, "cvm-snp"),
		cvm("cvm-snp-vm-2", "n2d-snp", teename.SNP, "cvm-snp"),
	}
}

// newMachine builds the simulated hardware for an inventory host.
func newMachine(h InventoryHost, teeFaults []tee.Fault) (*Machine, error) {
	m := &Machine{Name: h.Name, Labels: h.Labels, Image: h.Image, TEE: h.TEE, CPUs: h.CPUs, MemoryMiB: h.MemoryMiB,
		NodeType: h.NodeType, SecureBoot: h.SecureBoot, VTPM: h.VTPM}
	if m.CPUs == 0 {
		m.CPUs = defaultHostCPUs
	}
	if m.MemoryMiB == 0 {
		m.MemoryMiB = defaultHostMemoryMiB
	}
	teeFaults = append(append([]tee.Fault{}, teeFaults...), h.Defects...)
	m.Faults = teeFaults
	if h.Capability != nil {
		m.Capability = *h.Capability
	} else if h.TEE != "" {
		m.Capability = defaultCapability(h.TEE, []string{kataHandlers[h.TEE]})
	}
	switch h.TEE {
	case teename.TDX:
		m.Device = tee.NewTDXMachine(tee.TDXOptions{Name: h.Name, Faults: teeFaults})
	case teename.SNP:
		d, err := tee.NewSNPMachine(tee.SNPOptions{Name: h.Name, Faults: teeFaults})
		if err != nil {
			return nil, fmt.Errorf("machine %s: %w", h.Name, err)
		}
		m.Device = d
	case "":
	default:
		return nil, fmt.Errorf("machine %s: unknown TEE %q (want tdx, sev-snp or none)", h.Name, h.TEE)
	}
	return m, nil
}

// registerHosts creates the BareMetalHost objects.
func (p *Platform) registerHosts(ctx context.Context) error {
	for _, m := range p.machineList() {
		if m.NodeType != "" {
			continue // a cloud VM, not a BareMetalHost
		}
		bmh := mgmt.NewBareMetalHost(p.cfg.InventoryNamespace, m.Name)
		bmh.Labels = m.Labels
		bmh.Annotations = map[string]string{AnnotationImage: m.Image}
		bmh.Spec.Online = true
		u, err := mgmt.ToUnstructured(bmh)
		if err != nil {
			return err
		}
		res := p.dyn.Resource(mgmt.BareMetalHostResource).Namespace(p.cfg.InventoryNamespace)
		created, err := res.Create(ctx, u, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("register BareMetalHost %s: %w", m.Name, err)
		}
		// Inspected and ready, as metal3 leaves a host before provisioning.
		st, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&mgmt.BareMetalHostStatus{
			Provisioning: &mgmt.ProvisioningState{State: mgmt.StateAvailable},
			Hardware:     &mgmt.HardwareDetails{CPU: mgmt.HardwareCPU{Count: m.CPUs}, RAMMebibytes: m.MemoryMiB}})
		if err != nil {
			return err
		}
		created.Object["status"] = st
		if _, err := res.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("register BareMetalHost %s status: %w", m.Name, err)
		}
	}
	return nil
}

func (p *Platform) machineList() []*Machine {
	out := make([]*Machine, 0, len(p.machines))
	for _, m := range p.machines {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// listHosts reads the BareMetalHosts from the host cluster.
func (p *Platform) listHosts(ctx context.Context) ([]mgmt.BareMetalHost, error) {
	list, err := p.dyn.Resource(mgmt.BareMetalHostResource).Namespace(p.cfg.InventoryNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]mgmt.BareMetalHost, 0, len(list.Items))
	for i := range list.Items {
		h, err := mgmt.BareMetalHostFrom(&list.Items[i])
		if err != nil {
			return nil, err
		}
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// freeHostsFor returns the online, unclaimed, available hosts that serve
// the node type.
func freeHostsFor(hosts []mgmt.BareMetalHost, sel labels.Selector, nt *mgmt.NodeType) []mgmt.BareMetalHost {
	var out []mgmt.BareMetalHost
	for i := range hosts {
		h := &hosts[i]
		if h.Spec.Online && h.Spec.ConsumerRef == nil && h.Available() && serves(h, sel, nt) {
			out = append(out, *h)
		}
	}
	return out
}
