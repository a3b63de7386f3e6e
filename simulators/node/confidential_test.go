package node

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/cctest/cctest/faults"
)

// testAttester passes or fails every pod and counts its calls.
type testAttester struct {
	pass  bool
	calls atomic.Int32
	tee   atomic.Value
}

func (a *testAttester) AttestPod(ctx context.Context, node NodeInfo, pod *corev1.Pod) AttestResult {
	a.calls.Add(1)
	a.tee.Store(node.TEE)
	if a.pass {
		return AttestResult{Passed: true}
	}
	return AttestResult{Reason: "egress to the attestation service was denied: NetworkPolicy default-deny blocks 10.96.0.20:8443"}
}

func TestKataPodAttestedBeforeStart(t *testing.T) {
	att := &testAttester{pass: true}
	f := startFleet(t, func(c *Config) { c.Attester = att })
	spec := join(t, f, NodeSpec{Image: confidentialImage(), TEE: "tdx"})
	ns := namespace(t)
	p := create(t, podOn(ns, spec.Name, runtimeClass(t, HandlerKataTDX), nil))
	waitPod(t, ns, p.Name, 30*time.Second, "Running", phaseIs(corev1.PodRunning))
	if h, ok := f.SandboxHandler(ns, p.Name); !ok || h != HandlerKataTDX {
		t.Errorf("SandboxHandler = %q, %v", h, ok)
	}
	if att.calls.Load() != 1 || att.tee.Load() != "tdx" {
		t.Errorf("attester calls %d tee %v", att.calls.Load(), att.tee.Load())
	}
	// runc pods are not attested.
	plain := create(t, podOn(ns, spec.Name, "", nil))
	waitPod(t, ns, plain.Name, 30*time.Second, "Running", phaseIs(corev1.PodRunning))
	if att.calls.Load() != 1 {
		t.Errorf("runc pod attested: %d calls", att.calls.Load())
	}
}

// A guest that cannot get what its containers need leaves them in
// CreateContainerError with the kubelet's Failed event, and retries: the
// pod stays Pending and no container ever starts.
func TestKataPodFailsAttestation(t *testing.T) {
	att := &testAttester{pass: false}
	f := startFleet(t, func(c *Config) { c.Attester = att })
	spec := join(t, f, NodeSpec{Image: confidentialImage(), TEE: "sev-snp"})
	ns := namespace(t)
	p := create(t, podOn(ns, spec.Name, runtimeClass(t, HandlerKataSNP), nil))
	want := "egress to the attestation service was denied: NetworkPolicy default-deny blocks 10.96.0.20:8443"
	waitEvent(t, ns, p.Name, "Failed", 10*time.Second, func(e corev1.Event) bool {
		return e.Type == corev1.EventTypeWarning && e.Message == "Error: "+want
	})
	got := waitPod(t, ns, p.Name, 10*time.Second, "CreateContainerError", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
			p.Status.ContainerStatuses[0].State.Waiting.Reason == "CreateContainerError"
	})
	if got.Status.Phase != corev1.PodPending || got.Status.ContainerStatuses[0].State.Waiting.Message != want {
		t.Errorf("phase %s, waiting %+v", got.Status.Phase, got.Status.ContainerStatuses[0].State.Waiting)
	}
	if n := len(events(t, ns, p.Name, "Started")); n != 0 {
		t.Errorf("%d Started events", n)
	}
}

func TestDefaultAttesterFailsClosed(t *testing.T) {
	f := startFleet(t, nil)
	spec := join(t, f, NodeSpec{Image: confidentialImage(), TEE: "tdx"})
	ns := namespace(t)
	p := create(t, podOn(ns, spec.Name, runtimeClass(t, HandlerKataTDX), nil))
	waitEvent(t, ns, p.Name, "Failed", 10*time.Second, func(e corev1.Event) bool {
		return e.Message == "Error: "+NoAttesterMessage
	})
}

func TestVNodeAndKataSideBySide(t *testing.T) {
	f := startFleet(t, func(c *Config) { c.Attester = &testAttester{pass: true} })
	spec := join(t, f, NodeSpec{Image: confidentialImage(), TEE: "tdx"})
	ns := namespace(t)
	vn := create(t, podOn(ns, spec.Name, runtimeClass(t, HandlerVNode), nil))
	waitPod(t, ns, vn.Name, 30*time.Second, "Running", phaseIs(corev1.PodRunning))
	kata := create(t, podOn(ns, spec.Name, runtimeClass(t, HandlerKataTDX), nil))
	waitPod(t, ns, kata.Name, 30*time.Second, "Running", phaseIs(corev1.PodRunning))
	waitPod(t, ns, vn.Name, time.Second, "still Running", phaseIs(corev1.PodRunning))
}

func TestVNodeLimitations(t *testing.T) {
	f := startFleet(t, nil)
	spec := join(t, f, NodeSpec{Image: confidentialImage(), Extended: corev1.ResourceList{"sev-snp.amd.com/esids": resource.MustParse("10")}})
	roomy := join(t, f, NodeSpec{Image: func() Image {
		img := confidentialImage()
		img.VNode = VNodeSupport{HostPorts: true, DeviceDrivers: true, NestedUserNamespaces: true}
		return img
	}(), Extended: corev1.ResourceList{"sev-snp.amd.com/esids": resource.MustParse("10")}})
	ns := namespace(t)
	rc := runtimeClass(t, HandlerVNode)
	hostPath := corev1.HostPathCharDev
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.Pod)
		want   string
	}{
		{"hostPort", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080, HostPort: 80}}
		}, "hostPort/hostIP are not supported"},
		{"hostIP", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080, HostPort: 8080, HostIP: "127.0.0.1"}}
		}, "hostPort/hostIP are not supported"},
		{"device-resource", func(p *corev1.Pod) {
			q := corev1.ResourceList{"sev-snp.amd.com/esids": resource.MustParse("1")}
			p.Spec.Containers[0].Resources = corev1.ResourceRequirements{Requests: q, Limits: q}
		}, `device drivers are not supported: container "app" requests device resource "sev-snp.amd.com/esids"`},
		{"device-hostpath", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "sev", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/dev/sev-guest", Type: &hostPath}}}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "sev", MountPath: "/dev/sev-guest"}}
		}, "device drivers are not supported: container \"app\" mounts host device /dev/sev-guest"},
		{"nested-userns", func(p *corev1.Pod) {
			p.Spec.HostUsers = ptrTo(false)
		}, "nested user namespaces are not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := podOn(ns, spec.Name, rc, nil)
			tc.mutate(p)
			create(t, p)
			got := waitPod(t, ns, p.Name, 30*time.Second, "CreateContainerError", func(p *corev1.Pod) bool {
				cs := p.Status.ContainerStatuses
				return len(cs) == 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "CreateContainerError"
			})
			if msg := got.Status.ContainerStatuses[0].State.Waiting.Message; !strings.Contains(msg, tc.want) || !strings.Contains(msg, "vnode") || got.Status.Phase != corev1.PodPending {
				t.Errorf("phase %s message %q, want it to name %q", got.Status.Phase, msg, tc.want)
			}
			waitEvent(t, ns, p.Name, "Failed", 10*time.Second, func(e corev1.Event) bool {
				return e.Type == corev1.EventTypeWarning && strings.HasPrefix(e.Message, "Error: ") && strings.Contains(e.Message, tc.want)
			})
			// The same pod runs on an image whose vNode supports it, and
			// under runc: the check is vNode's, not the pod's.
			for node, class := range map[string]string{roomy.Name: rc, spec.Name: ""} {
				q := podOn(ns, node, class, nil)
				tc.mutate(q)
				create(t, q)
				waitPod(t, ns, q.Name, 30*time.Second, "Running on "+node+" class "+class, phaseIs(corev1.PodRunning))
			}
		})
	}
}

func TestVNodeNeedsKernel61(t *testing.T) {
	f := startFleet(t, nil)
	old := confidentialImage()
	old.Kernel = "5.15.0-105-generic"
	spec := join(t, f, NodeSpec{Image: old})
	ns := namespace(t)
	p := create(t, podOn(ns, spec.Name, runtimeClass(t, HandlerVNode), nil))
	waitEvent(t, ns, p.Name, ReasonFailedCreatePodSandBox, 30*time.Second, func(e corev1.Event) bool {
		return strings.Contains(e.Message, "kernel 5.15.0-105-generic is not supported: vNode requires Linux kernel >= 6.1")
	})
	waitPod(t, ns, p.Name, time.Second, "Pending", phaseIs(corev1.PodPending))
	// runc pods on the same node are fine.
	q := create(t, podOn(ns, spec.Name, "", nil))
	waitPod(t, ns, q.Name, 30*time.Second, "Running", phaseIs(corev1.PodRunning))
}

func TestFaults(t *testing.T) {
	sandboxFails := func(t *testing.T, f *Fleet, handler, want string) {
		spec := join(t, f, NodeSpec{Image: confidentialImage(), TEE: "tdx"})
		ns := namespace(t)
		p := create(t, podOn(ns, spec.Name, runtimeClass(t, handler), nil))
		waitEvent(t, ns, p.Name, ReasonFailedCreatePodSandBox, 30*time.Second, func(e corev1.Event) bool {
			return strings.Contains(e.Message, want)
		})
		waitPod(t, ns, p.Name, time.Second, "Pending", phaseIs(corev1.PodPending))
	}
	t.Run(FaultKataHandlerMissing, func(t *testing.T) {
		t.Parallel()
		f := startFleet(t, func(c *Config) {
			c.Faults = faults.Set{FaultKataHandlerMissing: true}
			c.Attester = &testAttester{pass: true}
		})
		sandboxFails(t, f, HandlerKataTDX, `no runtime for "kata-qemu-tdx" is configured`)
		sandboxFails(t, f, HandlerKataSNP, `no runtime for "kata-qemu-snp" is configured`)
		if img := f.Nodes()[0].Image; strings.Contains(strings.Join(img.RuntimeHandlers, ","), "kata") {
			t.Errorf("installed handlers %v", img.RuntimeHandlers)
		}
	})
	t.Run(FaultVNodeHandlerMissing, func(t *testing.T) {
		t.Parallel()
		f := startFleet(t, func(c *Config) { c.Faults = faults.Set{FaultVNodeHandlerMissing: true} })
		sandboxFails(t, f, HandlerVNode, `no runtime for "vnode" is configured`)
	})
	t.Run(FaultVNodeKataConflict, func(t *testing.T) {
		t.Parallel()
		f := startFleet(t, func(c *Config) {
			c.Faults = faults.Set{FaultVNodeKataConflict: true}
			c.Attester = &testAttester{pass: true}
		})
		spec := join(t, f, NodeSpec{Image: confidentialImage(), TEE: "tdx"})
		ns := namespace(t)
		vnode, kata := runtimeClass(t, HandlerVNode), runtimeClass(t, HandlerKataTDX)
		vn := create(t, podOn(ns, spec.Name, vnode, nil))
		waitPod(t, ns, vn.Name, 30*time.Second, "Running", phaseIs(corev1.PodRunning))
		k := create(t, podOn(ns, spec.Name, kata, nil))
		waitEvent(t, ns, k.Name, ReasonFailedCreatePodSandBox, 30*time.Second, func(e corev1.Event) bool {
			return strings.Contains(e.Message, `runtime "kata-qemu-tdx" conflicts with runtime "vnode" already running pod `+ns+"/"+vn.Name)
		})
		// And the other way round on a second node.
		spec2 := join(t, f, NodeSpec{Image: confidentialImage(), TEE: "tdx"})
		k2 := create(t, podOn(ns, spec2.Name, kata, nil))
		waitPod(t, ns, k2.Name, 30*time.Second, "Running", phaseIs(corev1.PodRunning))
		vn2 := create(t, podOn(ns, spec2.Name, vnode, nil))
		waitEvent(t, ns, vn2.Name, ReasonFailedCreatePodSandBox, 30*time.Second, func(e corev1.Event) bool {
			return strings.Contains(e.Message, `runtime "vnode" conflicts with runtime "kata-qemu-tdx"`)
		})
	})
	t.Run(FaultPodAttestationSkipped, func(t *testing.T) {
		t.Parallel()
		att := &testAttester{pass: false} // would fail the pod if it were asked
		f := startFleet(t, func(c *Config) {
			c.Faults = faults.Set{FaultPodAttestationSkipped: true}
			c.Attester = att
		})
		spec := join(t, f, NodeSpec{Image: confidentialImage(), TEE: "tdx"})
		ns := namespace(t)
		p := create(t, podOn(ns, spec.Name, runtimeClass(t, HandlerKataTDX), nil))
		waitPod(t, ns, p.Name, 30*time.Second, "Running", phaseIs(corev1.PodRunning))
		waitEvent(t, ns, p.Name, "Started", 10*time.Second, nil)
		if att.calls.Load() != 0 {
			t.Errorf("attestation not skipped: %d attester calls", att.calls.Load())
		}
	})
}
