package node

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cctest/cctest/internal/testenv"
)

func TestPodRunsWithKubeletStatus(t *testing.T) {
	f := startFleet(t, nil)
	spec := join(t, f, NodeSpec{Image: confidentialImage()})
	ns := namespace(t)
	p := podOn(ns, spec.Name, "", nil,
		corev1.Container{Name: "web", Image: "nginx:1.27"},
		corev1.Container{Name: "agent", Image: "ghcr.io/example/agent@sha256:" + strings.Repeat("ab", 32)})
	create(t, p)
	got := waitPod(t, ns, p.Name, 30*time.Second, "Running and Ready", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && condTrue(p, corev1.PodReady)
	})
	if !regexp.MustCompile(`^10\.\d+\.\d+\.\d+$`).MatchString(got.Status.PodIP) || got.Status.HostIP != nodeAddress(t, spec.Name) {
		t.Errorf("podIP %q hostIP %q", got.Status.PodIP, got.Status.HostIP)
	}
	if got.Status.StartTime == nil {
		t.Error("no startTime")
	}
	for _, ct := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodScheduled} {
		if !condTrue(got, ct) {
			t.Errorf("condition %s not True: %+v", ct, got.Status.Conditions)
		}
	}
	if len(got.Status.ContainerStatuses) != 2 {
		t.Fatalf("container statuses: %+v", got.Status.ContainerStatuses)
	}
	cid := regexp.MustCompile(`^containerd://[0-9a-f]{64}$`)
	for _, cs := range got.Status.ContainerStatuses {
		if cs.State.Running == nil || !cs.Ready || cs.Started == nil || !*cs.Started || !cid.MatchString(cs.ContainerID) || !strings.Contains(cs.ImageID, "@sha256:") {
			t.Errorf("container status %+v", cs)
		}
	}
	// Sorted by name, image normalised as containerd reports it.
	if cs := got.Status.ContainerStatuses[1]; cs.Name != "web" || cs.Image != "docker.io/library/nginx:1.27" || !strings.HasPrefix(cs.ImageID, "docker.io/library/nginx@sha256:") {
		t.Errorf("web status %+v", cs)
	}
	if cs := got.Status.ContainerStatuses[0]; cs.ImageID != "ghcr.io/example/agent@sha256:"+strings.Repeat("ab", 32) {
		t.Errorf("agent imageID %q", cs.ImageID)
	}
	ev := waitEvent(t, ns, p.Name, "Started", 10*time.Second, nil)
	if ev.Source.Component != "kubelet" || ev.Source.Host != spec.Name || ev.ReportingInstance != spec.Name || !strings.HasPrefix(ev.InvolvedObject.FieldPath, "spec.containers{") {
		t.Errorf("Started event %+v", ev)
	}
}

func TestExitCodeAnnotation(t *testing.T) {
	f := startFleet(t, nil)
	spec := join(t, f, NodeSpec{})
	ns := namespace(t)
	for _, tc := range []struct {
		name   string
		policy corev1.RestartPolicy
		ann    map[string]string
		check  func(*corev1.Pod) bool
	}{
		{"never-success", corev1.RestartPolicyNever, map[string]string{AnnotationExitCode: "0"}, func(p *corev1.Pod) bool {
			cs := p.Status.ContainerStatuses
			return p.Status.Phase == corev1.PodSucceeded && len(cs) == 1 && cs[0].State.Terminated != nil &&
				cs[0].State.Terminated.Reason == "Completed" && condReason(p, corev1.PodReady) == "PodCompleted"
		}},
		{"never-failure", corev1.RestartPolicyNever, map[string]string{AnnotationExitCode: "3", AnnotationTerminationMessage: "disk on fire"}, func(p *corev1.Pod) bool {
			cs := p.Status.ContainerStatuses
			return p.Status.Phase == corev1.PodFailed && len(cs) == 1 && cs[0].State.Terminated != nil &&
				cs[0].State.Terminated.ExitCode == 3 && cs[0].State.Terminated.Reason == "Error" &&
				cs[0].State.Terminated.Message == "disk on fire" && cs[0].RestartCount == 0
		}},
		{"onfailure-success", corev1.RestartPolicyOnFailure, map[string]string{AnnotationExitCode: "0", AnnotationRunFor: "1s"}, phaseIs(corev1.PodSucceeded)},
		{"always-restarts", corev1.RestartPolicyAlways, map[string]string{AnnotationExitCode: "1", AnnotationRunFor: "500ms"}, func(p *corev1.Pod) bool {
			cs := p.Status.ContainerStatuses
			return p.Status.Phase == corev1.PodRunning && len(cs) == 1 && cs[0].RestartCount >= 2 &&
				cs[0].LastTerminationState.Terminated != nil && cs[0].LastTerminationState.Terminated.ExitCode == 1
		}},
		{"onfailure-crashloop", corev1.RestartPolicyOnFailure, map[string]string{AnnotationExitCode: "2"}, func(p *corev1.Pod) bool {
			cs := p.Status.ContainerStatuses
			return p.Status.Phase == corev1.PodRunning && len(cs) == 1 && cs[0].State.Waiting != nil &&
				cs[0].State.Waiting.Reason == "CrashLoopBackOff" && strings.Contains(cs[0].State.Waiting.Message, "back-off") &&
				cs[0].LastTerminationState.Terminated != nil && cs[0].LastTerminationState.Terminated.ExitCode == 2
		}},
		{"bad-annotation", corev1.RestartPolicyNever, map[string]string{AnnotationExitCode: "sometimes"}, func(p *corev1.Pod) bool {
			cs := p.Status.ContainerStatuses
			return p.Status.Phase == corev1.PodPending && len(cs) == 1 && cs[0].State.Waiting != nil &&
				cs[0].State.Waiting.Reason == "CreateContainerError" && strings.Contains(cs[0].State.Waiting.Message, AnnotationExitCode)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := podOn(ns, spec.Name, "", tc.ann)
			p.Spec.RestartPolicy = tc.policy
			create(t, p)
			waitPod(t, ns, p.Name, 30*time.Second, tc.name, tc.check)
		})
	}
	// Without the annotation a container runs until it is deleted.
	p := create(t, podOn(ns, spec.Name, "", nil))
	waitPod(t, ns, p.Name, 30*time.Second, "Running", phaseIs(corev1.PodRunning))
	time.Sleep(2 * time.Second)
	waitPod(t, ns, p.Name, time.Second, "still Running", phaseIs(corev1.PodRunning))
}

func TestInitContainersRunFirst(t *testing.T) {
	f := startFleet(t, nil)
	spec := join(t, f, NodeSpec{})
	ns := namespace(t)
	p := podOn(ns, spec.Name, "", nil)
	p.Spec.InitContainers = []corev1.Container{
		{Name: "setup", Image: "busybox"},
		{Name: "proxy", Image: "envoy", RestartPolicy: ptrTo(corev1.ContainerRestartPolicyAlways)},
	}
	create(t, p)
	got := waitPod(t, ns, p.Name, 30*time.Second, "Running", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && condTrue(p, corev1.PodReady)
	})
	ics := got.Status.InitContainerStatuses
	if len(ics) != 2 || ics[0].State.Terminated == nil || ics[0].State.Terminated.Reason != "Completed" || ics[1].State.Running == nil {
		t.Errorf("init statuses: %s", describePod(got))
	}
}

func TestMissingHandlerFailsSandbox(t *testing.T) {
	f := startFleet(t, nil)
	spec := join(t, f, NodeSpec{Image: Image{RuntimeHandlers: []string{HandlerRunc}}})
	ns := namespace(t)
	rc := runtimeClass(t, HandlerKataTDX)
	p := create(t, podOn(ns, spec.Name, rc, nil))
	want := `Failed to create pod sandbox: rpc error: code = Unknown desc = failed to get sandbox runtime: no runtime for "kata-qemu-tdx" is configured`
	ev := waitEvent(t, ns, p.Name, ReasonFailedCreatePodSandBox, 30*time.Second, func(e corev1.Event) bool {
		return e.Message == want && e.Type == corev1.EventTypeWarning
	})
	// Retried with backoff: the same event repeats (count).
	waitEvent(t, ns, p.Name, ReasonFailedCreatePodSandBox, 30*time.Second, func(e corev1.Event) bool {
		return e.Name == ev.Name && e.Count >= 2
	})
	got := waitPod(t, ns, p.Name, 5*time.Second, "Pending, ContainerCreating", func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return p.Status.Phase == corev1.PodPending && len(cs) == 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "ContainerCreating"
	})
	if got.Status.PodIP != "" || condTrue(got, corev1.PodReadyToStartContainers) {
		t.Errorf("a pod without sandbox has podIP %q / conditions %+v", got.Status.PodIP, got.Status.Conditions)
	}
}

func TestDeletedRuntimeClassFailsSandbox(t *testing.T) {
	f := startFleet(t, nil)
	ns := namespace(t)
	rc := runtimeClass(t, HandlerKataTDX)
	// Bound to a node that joins only after the class is gone.
	nodeName := uniq("node")
	p := create(t, podOn(ns, nodeName, rc, nil))
	if err := tenant(t).NodeV1().RuntimeClasses().Delete(context.Background(), rc, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // let the fleet's RuntimeClass informer see the deletion
	join(t, f, NodeSpec{Name: nodeName, Image: confidentialImage()})
	waitEvent(t, ns, p.Name, ReasonFailedCreatePodSandBox, 30*time.Second, func(e corev1.Event) bool {
		return e.Message == fmt.Sprintf(`Failed to create pod sandbox: runtimeclass.node.k8s.io %q not found`, rc)
	})
}

func TestNamespaceDeletionCompletes(t *testing.T) {
	f := startFleet(t, nil)
	spec := join(t, f, NodeSpec{})
	ns := namespace(t)
	var names []string
	for i := 0; i < 5; i++ {
		p := create(t, podOn(ns, spec.Name, "", nil))
		names = append(names, p.Name)
	}
	for _, n := range names {
		waitPod(t, ns, n, 30*time.Second, "Running", phaseIs(corev1.PodRunning))
	}
	c := tenant(t)
	if err := c.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, "namespace "+ns+" gone", func() (bool, string) {
		n, err := c.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, ""
		}
		if err != nil {
			return false, err.Error()
		}
		return false, fmt.Sprintf("phase %s conditions %+v", n.Status.Phase, n.Status.Conditions)
	})
}

// recordingProbes is a test ProbeRunner.
type recordingProbes struct {
	mu    sync.Mutex
	calls []string
	code  int32
	msg   string
}

func (r *recordingProbes) RunProbe(ctx context.Context, node NodeInfo, pod *corev1.Pod, c corev1.Container) (int32, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("%s/%s/%s tee=%s args=%v", node.Name, pod.Name, c.Name, node.TEE, append(c.Command, c.Args...)))
	return r.code, r.msg
}

func TestProbeContainerRunsThroughProbeRunner(t *testing.T) {
	probes := &recordingProbes{code: 0, msg: `{"probe":"quote","verdict":"ok"}`}
	f := startFleet(t, func(c *Config) { c.Probes = probes })
	spec := join(t, f, NodeSpec{Image: confidentialImage(), TEE: "tdx"})
	ns := namespace(t)

	run := func(c corev1.Container, ann map[string]string) *corev1.Pod {
		p := podOn(ns, spec.Name, "", ann, c)
		p.Spec.RestartPolicy = corev1.RestartPolicyNever
		create(t, p)
		return waitPod(t, ns, p.Name, 30*time.Second, "finished", func(p *corev1.Pod) bool {
			return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
		})
	}
	// Command form; the exit-code annotation does not apply to probes.
	got := run(corev1.Container{Name: "probe", Image: "ghcr.io/cctest/cctest:dev", Command: []string{"/usr/local/bin/cctest", "probe", "quote"}},
		map[string]string{AnnotationExitCode: "7"})
	term := got.Status.ContainerStatuses[0].State.Terminated
	if got.Status.Phase != corev1.PodSucceeded || term.ExitCode != 0 || term.Message != probes.msg {
		t.Errorf("probe pod: %s", describePod(got))
	}
	// Args form with a cctest image, failing.
	probes.mu.Lock()
	probes.code, probes.msg = 2, "egress to the attestation service was denied"
	probes.mu.Unlock()
	got = run(corev1.Container{Name: "egress", Image: "ghcr.io/cctest/cctest:dev", Args: []string{"probe", "egress"}}, nil)
	term = got.Status.ContainerStatuses[0].State.Terminated
	if got.Status.Phase != corev1.PodFailed || term.ExitCode != 2 || term.Message != "egress to the attestation service was denied" {
		t.Errorf("failing probe pod: %s", describePod(got))
	}
	probes.mu.Lock()
	calls := strings.Join(probes.calls, "\n")
	probes.mu.Unlock()
	if !strings.Contains(calls, "tee=tdx args=[/usr/local/bin/cctest probe quote]") || !strings.Contains(calls, "args=[probe egress]") {
		t.Errorf("probe runner calls:\n%s", calls)
	}
	// Args "probe" on a non-cctest image is an ordinary container.
	p := podOn(ns, spec.Name, "", nil, corev1.Container{Name: "other", Image: "busybox", Args: []string{"probe"}})
	create(t, p)
	waitPod(t, ns, p.Name, 30*time.Second, "Running", phaseIs(corev1.PodRunning))
}

func TestDefaultProbeRunnerFails(t *testing.T) {
	f := startFleet(t, nil)
	spec := join(t, f, NodeSpec{})
	ns := namespace(t)
	p := podOn(ns, spec.Name, "", nil, corev1.Container{Name: "probe", Image: "cctest", Command: []string{"cctest", "probe", "runtime"}})
	p.Spec.RestartPolicy = corev1.RestartPolicyNever
	create(t, p)
	waitPod(t, ns, p.Name, 30*time.Second, "Failed with the no-runner message", func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return p.Status.Phase == corev1.PodFailed && len(cs) == 1 && cs[0].State.Terminated != nil &&
			cs[0].State.Terminated.Message == NoProbeRunnerMessage
	})
}

func condTrue(p *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func condReason(p *corev1.Pod, t corev1.PodConditionType) string {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Reason
		}
	}
	return ""
}

func nodeAddress(t testing.TB, name string) string {
	n, err := tenant(t).CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n.Status.Addresses[0].Address
}

func TestRestartedKubeletAdoptsRunningPods(t *testing.T) {
	_, tc := testenv.Configs(t)
	first, err := NewFleet(Config{Tenant: tc, TenantPKIDir: tenantPKI()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- first.Run(ctx) }()
	name := uniq("node")
	if err := first.Join(context.Background(), NodeSpec{Name: name}); err != nil {
		t.Fatal(err)
	}
	ns := namespace(t)
	p := create(t, podOn(ns, name, "", nil))
	before := waitPod(t, ns, p.Name, 30*time.Second, "Running", phaseIs(corev1.PodRunning))
	stop() // the kubelet dies; containerd keeps the containers
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	second := startFleet(t, nil)
	join(t, second, NodeSpec{Name: name}) // re-registers the existing Node
	q := create(t, podOn(ns, name, "", nil))
	waitPod(t, ns, q.Name, 30*time.Second, "Running", phaseIs(corev1.PodRunning))
	after := waitPod(t, ns, p.Name, time.Second, "Running", phaseIs(corev1.PodRunning))
	b, a := before.Status.ContainerStatuses[0], after.Status.ContainerStatuses[0]
	if a.ContainerID != b.ContainerID || a.RestartCount != 0 || !a.State.Running.StartedAt.Equal(&b.State.Running.StartedAt) || after.Status.PodIP != before.Status.PodIP {
		t.Errorf("adopted pod changed:\nbefore %+v %s\nafter  %+v %s", b, before.Status.PodIP, a, after.Status.PodIP)
	}
	if got := waitPod(t, ns, q.Name, time.Second, "", phaseIs(corev1.PodRunning)); got.Status.PodIP == before.Status.PodIP {
		t.Errorf("new pod got the adopted pod's IP %s", got.Status.PodIP)
	}
}

func TestTerminalPhaseIsFinal(t *testing.T) {
	f := startFleet(t, nil)
	spec := join(t, f, NodeSpec{})
	ns := namespace(t)
	p := create(t, podOn(ns, spec.Name, "", nil))
	waitPod(t, ns, p.Name, 30*time.Second, "Running", phaseIs(corev1.PodRunning))
	// Someone else fails the pod (as an eviction does).
	patch := []byte(`{"status":{"phase":"Failed","reason":"Evicted","message":"The node was low on resource: memory."}}`)
	if _, err := tenant(t).CoreV1().Pods(ns).Patch(context.Background(), p.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	got := waitPod(t, ns, p.Name, time.Second, "still Failed", phaseIs(corev1.PodFailed))
	if got.Status.Reason != "Evicted" {
		t.Errorf("reason %q", got.Status.Reason)
	}
}
