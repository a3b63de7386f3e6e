// The attestation side of the simulated nodes: the platform's attestation
// service, the pod network pods reach it through, and the nodes' TEE devices
// as pods' guests see them (with the faults that act on them). The Kata guest
// agent (kataguest.go) and the probe runner (probes.go) use these parts.

package embedded

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"sync"

	"github.com/cctest/cctest/api/teename"
	"github.com/cctest/cctest/simulators/tee"
	"github.com/cctest/cctest/simulators/tee/simdevice"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cctest/cctest/attest/device"
	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/simulators/attestation"
	"github.com/cctest/cctest/simulators/controlplane/pki"
	"github.com/cctest/cctest/simulators/kbs"
	"github.com/cctest/cctest/simulators/node"
	"github.com/cctest/cctest/simulators/podnet"
)

// attestationParts is the platform's attestation service and what the node
// agent needs to reach it from pods: the simulated pod network, the nodes'
// TEE devices as pods see them. It is the fleet's pod attester (AttestPod,
// kataguest.go) and probe runner (RunProbe, probes.go).
type attestationParts struct {
	svc      *attestation.Service
	net      *podnet.Network
	tenant   kubernetes.Interface
	machines *machineIndex
	faults   faults.Set

	mu        sync.Mutex
	devices   map[string]device.Device // node name -> the host's own TEE (kata-guests-share-evidence only)
	guestDevs map[string]device.Device // pod UID -> its Kata guest's TEE device
	guests    guests                   // the Kata pods' confidential guests
	// kbsAdmin is the KBS operator's key (the admin API's Ed25519 key).
	kbsAdmin ed25519.PrivateKey
}

// startAttestation starts the service with a serving certificate from the
// tenant CA (so pods trust it through their service-account CA) and
// advertises it in the tenant.
func startAttestation(ctx context.Context, tenant kubernetes.Interface, tenantPKIDir string, pol *policy.Policy,
	v *verifier.Verifier, machines *machineIndex, fs faults.Set) (*attestationParts, error) {
	ca, err := pki.LoadCA(tenantPKIDir)
	if err != nil {
		return nil, fmt.Errorf("attestation service: tenant CA: %w", err)
	}
	adminPub, adminKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	kbsSrv, err := kbs.New(kbs.Config{Policy: pol, Verifier: v, Admin: kbs.AdminConfig{PublicKey: adminPub}, Faults: fs})
	if err != nil {
		return nil, err
	}
	svc, err := attestation.Start(attestation.Config{Policy: pol, Verifier: v, CA: ca, Faults: fs, KBS: kbsSrv})
	if err != nil {
		return nil, err
	}
	if err := attestation.Advertise(ctx, tenant, svc); err != nil {
		svc.Close()
		return nil, err
	}
	a := &attestationParts{svc: svc, tenant: tenant, machines: machines, faults: fs, devices: map[string]device.Device{},
		guestDevs: map[string]device.Device{}, kbsAdmin: adminKey}
	a.net = &podnet.Network{Tenant: tenant,
		Backends: map[string]string{net.JoinHostPort(attestation.EndpointIP, fmt.Sprint(attestation.Port)): svc.Addr()}}
	if fs.Has(FaultEgressDenied) {
		a.net.Blackhole = a.egressDenied
	}
	a.net.Unenforced = fs.Has(FaultNetpolNotEnforced)
	if fs.Has(FaultSNPNetpolNotEnforced) {
		a.net.UnenforcedFor = a.onSNPNode
	}
	if fs.Has(FaultEgressAllowsNamespace) {
		a.net.Rewrite = wholeAttestationNamespace
	}
	a.net.PodLoopback = a.podLoopback
	return a, nil
}

func (a *attestationParts) close() {
	if a != nil && a.svc != nil {
		a.guests.closeAll()
		a.svc.Close()
	}
}

// egressDenied is the egress-denied fault: pods on confidential nodes
// cannot reach the attestation service, whatever the policies say.
func (a *attestationParts) egressDenied(pod *corev1.Pod, d podnet.Destination) bool {
	m := a.machines.get(pod.Spec.NodeName)
	if m == nil || m.TEE == "" {
		return false
	}
	endpoint := net.JoinHostPort(attestation.EndpointIP, fmt.Sprint(attestation.Port))
	return d.Service == attestation.Namespace+"/"+attestation.ServiceName || d.Addr == endpoint || d.Backend == endpoint
}

// onSNPNode is the snp-netpol-not-enforced fault: the network plugin of
// SEV-SNP nodes does not enforce NetworkPolicies for their pods.
func (a *attestationParts) onSNPNode(pod *corev1.Pod) bool {
	m := a.machines.get(pod.Spec.NodeName)
	return m != nil && m.TEE == teename.SNP
}

// wholeAttestationNamespace is the egress-allows-namespace fault: a peer
// that selects the attestation service's namespace loses its podSelector,
// so the rule admits every pod of that namespace.
func wholeAttestationNamespace(nps []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
	out := make([]networkingv1.NetworkPolicy, len(nps))
	for i := range nps {
		np := nps[i].DeepCopy()
		for j := range np.Spec.Egress {
			for k := range np.Spec.Egress[j].To {
				p := &np.Spec.Egress[j].To[k]
				if p.NamespaceSelector != nil && p.NamespaceSelector.MatchLabels[corev1.LabelMetadataName] == attestation.Namespace {
					p.PodSelector = nil
				}
			}
		}
		out[i] = *np
	}
	return out
}

// guestDevice is the TEE device inside a Kata pod's own guest VM: the Kata
// guest image measured at the size the pod's resources give its VM, the
// hardware identity of the host it runs on. With probe-evidence-replayed it
// returns one stale evidence for every request; with
// kata-guests-share-evidence every guest gets the host's device instead.
func (a *attestationParts) guestDevice(n node.NodeInfo, pod *corev1.Pod) (device.Device, error) {
	if a.faults.Has(FaultKataGuestsShareEvidence) {
		if d := a.nodeDevice(n.Name); d != nil {
			return d, nil
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if d, ok := a.guestDevs[string(pod.UID)]; ok {
		return d, nil
	}
	m := a.machines.get(n.Name)
	if m == nil || m.Device == nil {
		return nil, fmt.Errorf("node %s has no TEE hardware: the Kata TEE runtime cannot start a confidential guest", n.Name)
	}
	if !m.Capability.Supports(m.TEE) {
		return nil, fmt.Errorf("node %s: %s host support is not enabled: the Kata TEE runtime cannot start a confidential guest", n.Name, m.TEE)
	}
	g, err := tee.NewKataGuest(tee.KataGuestOptions{Name: "kata-guest " + pod.Namespace + "/" + pod.Name, Host: m.Name,
		TEE: m.TEE, Size: KataGuestSize(pod), Faults: m.Faults})
	if err != nil {
		return nil, err
	}
	var d device.Device = simdevice.New(g)
	if a.faults.Has(tee.FaultProbeEvidenceReplayed) {
		d = &replayingDevice{Device: d}
	}
	a.guestDevs[string(pod.UID)] = d
	return d, nil
}

// KataGuestSize is the VM Kata gives a pod when it sizes sandboxes
// statically, as it must for TDX / SNP guests (no hotplug):
// default_vcpus (1) plus the containers' CPU limits rounded up, and
// default_memory (2048 MiB) plus their memory limits.
func KataGuestSize(pod *corev1.Pod) tee.GuestSize {
	var milli, bytes int64
	for _, c := range pod.Spec.Containers {
		milli += c.Resources.Limits.Cpu().MilliValue()
		bytes += c.Resources.Limits.Memory().Value()
	}
	return tee.GuestSize{VCPUs: 1 + int((milli+999)/1000), MemoryMiB: 2048 + int(bytes>>20)}
}

// nodeDevice is the TEE device of the machine a node runs on: only the
// kata-guests-share-evidence fault hands it to pods.
func (a *attestationParts) nodeDevice(nodeName string) device.Device {
	a.mu.Lock()
	defer a.mu.Unlock()
	if d, ok := a.devices[nodeName]; ok {
		return d
	}
	m := a.machines.get(nodeName)
	if m == nil || m.Device == nil {
		return nil
	}
	var d device.Device = simdevice.New(m.Device)
	if a.faults.Has(tee.FaultProbeEvidenceReplayed) {
		d = &replayingDevice{Device: d}
	}
	a.devices[nodeName] = d
	return d
}

// replayingDevice ignores the REPORT_DATA asked for and returns evidence
// minted once, long ago, for someone else's nonce.
type replayingDevice struct {
	device.Device
	once sync.Once
	ev   verifier.Evidence
	err  error
}

func (d *replayingDevice) Evidence([64]byte) (verifier.Evidence, error) {
	d.once.Do(func() {
		d.ev, d.err = d.Device.Evidence(verifier.BindReportData([]byte("an earlier challenge"), "pod:someone-else"))
	})
	return d.ev, d.err
}

// platformFaults are the faults the auto-node platform sees:
// probe-evidence-replayed acts on the devices pods use (nodeDevice), so
// machines still pass the node-join gate and the probes can run.
func platformFaults(fs faults.Set) faults.Set {
	if !fs.Has(tee.FaultProbeEvidenceReplayed) {
		return fs
	}
	out := faults.Set{}
	for n := range fs {
		if n != tee.FaultProbeEvidenceReplayed {
			out[n] = true
		}
	}
	return out
}
