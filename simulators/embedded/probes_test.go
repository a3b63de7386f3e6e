package embedded

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/cctest/cctest/attest/device"
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/probe"
	"github.com/cctest/cctest/simulators/node"
	"github.com/cctest/cctest/simulators/platform"
	"github.com/cctest/cctest/simulators/podnet"
	"github.com/cctest/cctest/simulators/tee"
)

// Unit tests of the probe runner's kubelet behaviour (no control plane);
// env resolution itself is tested in kubeletenv.

func fakeParts(objs ...corev1.ConfigMap) *attestationParts {
	c := fake.NewClientset()
	for i := range objs {
		c.CoreV1().ConfigMaps(objs[i].Namespace).Create(context.Background(), &objs[i], metav1.CreateOptions{})
	}
	m := &machineIndex{byNode: map[string]*platform.Machine{
		"tdx-1": {Name: "tdx-host-0", TEE: "tdx", Device: tee.NewTDXMachine(tee.TDXOptions{Name: "tdx-host-0"}), Capability: platform.HostCapability{TDX: true}},
	}}
	return &attestationParts{tenant: c, machines: m, net: &podnet.Network{Tenant: c}, devices: map[string]device.Device{}, guestDevs: map[string]device.Device{}}
}

// TestProbeWithUnresolvableEnvFails: a container whose env does not resolve
// (kubeletenv) is not started; the probe fails with the reason.
func TestProbeWithUnresolvableEnvFails(t *testing.T) {
	a := fakeParts(corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "svc", Namespace: "app"}, Data: map[string]string{"url": "https://x"}})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "app", UID: "u-1"}, Spec: corev1.PodSpec{NodeName: "tdx-1"}}
	c := corev1.Container{Env: []corev1.EnvVar{
		{Name: probe.EnvURL, ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "svc"}, Key: "url"}}},
		{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}, Key: "k"}}},
	}}
	code, msg := a.RunProbe(context.Background(), node.NodeInfo{Name: "tdx-1", TEE: "tdx"}, pod, c)
	if r, err := probe.ParseMessage(msg); err != nil || code == 0 || !strings.Contains(r.Reason, `env X: configmap "missing" not found`) {
		t.Errorf("missing ConfigMap: code %d %q %v", code, msg, err)
	}
}

func TestSandboxDeviceOnlyInAKataTEEGuest(t *testing.T) {
	a := fakeParts()
	n := node.NodeInfo{Name: "tdx-1", TEE: "tdx"}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "app", UID: "u-1"}}
	if d, err := a.sandboxDevice(n, pod, "kata-qemu-tdx"); err != nil || d.TEE() != "tdx" {
		t.Errorf("kata-qemu-tdx on TDX: %v %v", d, err)
	}
	for _, h := range []string{"runc", "vnode", "kata-qemu-snp", ""} {
		if _, err := a.sandboxDevice(n, pod, h); err == nil {
			t.Errorf("%q on TDX got a TEE device", h)
		}
	}
	if ri := a.sandboxRuntime(n, pod, "vnode"); ri.Sandbox != "container" || ri.TEE != "" {
		t.Errorf("vnode runtime %+v", ri)
	}
}

func TestReplayFaultStaysOffTheGate(t *testing.T) {
	fs := faults.Set{tee.FaultProbeEvidenceReplayed: true, tee.FaultDebugTD: true}
	got := platformFaults(fs)
	if got.Has(tee.FaultProbeEvidenceReplayed) || !got.Has(tee.FaultDebugTD) || !fs.Has(tee.FaultProbeEvidenceReplayed) {
		t.Errorf("platform faults %v (from %v)", got.Names(), fs.Names())
	}
	a := fakeParts()
	a.faults = fs
	d := a.nodeDevice("tdx-1")
	e1, err1 := d.Evidence([64]byte{1})
	e2, err2 := d.Evidence([64]byte{2})
	if err1 != nil || err2 != nil || string(e1.Raw) != string(e2.Raw) {
		t.Error("the replaying device returned fresh evidence")
	}
}

func TestProbeArgs(t *testing.T) {
	if got := probeArgs(corev1.Container{Command: []string{"/cctest", "probe"}, Args: []string{"egress", "--target", "a:1"}}); strings.Join(got, " ") != "probe egress --target a:1" {
		t.Errorf("command form: %v", got)
	}
	if got := probeArgs(corev1.Container{Args: []string{"probe", "runtime"}}); strings.Join(got, " ") != "probe runtime" {
		t.Errorf("args form: %v", got)
	}
}
