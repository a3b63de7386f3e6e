package embedded

import (
	"context"
	"fmt"
	"sync"

	"github.com/cctest/cctest/attest/gatetrace"
	"github.com/cctest/cctest/simulators/node"
	"github.com/cctest/cctest/simulators/platform"
)

// Images are the node images of the reference inventory (what containerd
// runtimes and drivers each machine boots with).
var Images = map[string]node.Image{
	"cc-node-tdx": {Name: "ubuntu-24.04-cc-tdx-2026.11", Kernel: "6.8.0-1015-intel", ContainerRuntime: "containerd://2.0.4",
		RuntimeHandlers: []string{"runc", "kata-qemu-tdx", "vnode"}, Drivers: []string{"tdx_guest"}},
	"cc-node-snp": {Name: "ubuntu-24.04-cc-snp-2026.11", Kernel: "6.8.0-1015-amd", ContainerRuntime: "containerd://2.0.4",
		RuntimeHandlers: []string{"runc", "kata-qemu-snp", "vnode"}, Drivers: []string{"sev-guest"}},
	// Cloud Confidential VM node images: the VM is the TEE, so no Kata.
	"cvm-tdx": {Name: "ubuntu-24.04-cvm-tdx-2026.11", Kernel: "6.8.0-1015-gcp", ContainerRuntime: "containerd://2.0.4",
		RuntimeHandlers: []string{"runc"}, Drivers: []string{"tdx_guest", "tpm_crb"}},
	"cvm-snp": {Name: "ubuntu-24.04-cvm-snp-2026.11", Kernel: "6.8.0-1015-gcp", ContainerRuntime: "containerd://2.0.4",
		RuntimeHandlers: []string{"runc"}, Drivers: []string{"sev-guest", "tpm_crb"}},
	"general": {Name: "ubuntu-24.04-2026.11", Kernel: "6.8.0-45-generic", ContainerRuntime: "containerd://2.0.4",
		RuntimeHandlers: []string{"runc"}},
}

// machineIndex remembers which machine each joined node runs on: the
// simulated kubelet reaches its TEE device through it, as a real kubelet
// reaches the device of the machine it runs on.
type machineIndex struct {
	mu     sync.Mutex
	byNode map[string]*platform.Machine
}

func (i *machineIndex) set(nodeName string, m *platform.Machine) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.byNode[nodeName] = m
}

func (i *machineIndex) get(nodeName string) *platform.Machine {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.byNode[nodeName]
}

// fleetJoiner boots a claimed machine as a simulated kubelet.
type fleetJoiner struct {
	fleet    *node.Fleet
	machines *machineIndex
}

func (j *fleetJoiner) Join(ctx context.Context, r platform.JoinRequest) error {
	img, ok := Images[r.Machine.Image]
	if !ok {
		return fmt.Errorf("machine %s: unknown node image %q", r.Machine.Name, r.Machine.Image)
	}
	j.machines.set(r.NodeName, r.Machine)
	spec := node.NodeSpec{Name: r.NodeName, Labels: r.Labels, Taints: r.Taints,
		CPU: r.CPU, Memory: r.Memory, Image: img, TEE: r.Machine.TEE}
	if r.GateTrace != "" {
		spec.SelfAnnotations = map[string]string{gatetrace.Annotation: r.GateTrace}
	}
	return j.fleet.Join(ctx, spec)
}

func (j *fleetJoiner) Remove(ctx context.Context, name string) error {
	return j.fleet.Remove(ctx, name)
}
