package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/cctest/cctest/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

var seq atomic.Int64

// uniq makes a DNS-safe name unique within the shared tenant.
func uniq(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1_000_000, seq.Add(1))
}

func tenantPKI() string { return filepath.Join(testenv.Pair().Dir, "tenant", "pki") }

func tenant(t testing.TB) kubernetes.Interface {
	_, c := testenv.Clients(t)
	return c
}

// startFleet runs a fleet for the test with short retry timings.
func startFleet(t testing.TB, mutate func(*Config)) *Fleet {
	t.Helper()
	_, tc := testenv.Configs(t)
	cfg := Config{Tenant: tc, TenantPKIDir: tenantPKI(), BackoffInitial: time.Second, BackoffMax: 4 * time.Second}
	if mutate != nil {
		mutate(&cfg)
	}
	f, err := NewFleet(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("fleet.Run: %v", err)
		}
	})
	return f
}

// join joins a node and removes it when the test ends.
func join(t testing.TB, f *Fleet, spec NodeSpec) NodeSpec {
	t.Helper()
	if spec.Name == "" {
		spec.Name = uniq("node")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.Join(ctx, spec); err != nil {
		t.Fatalf("join %s: %v", spec.Name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := f.Remove(ctx, spec.Name); err != nil {
			t.Errorf("remove %s: %v", spec.Name, err)
		}
	})
	return spec
}

func confidentialImage() Image {
	return Image{
		Name:             "Ubuntu 24.04 LTS (cctest confidential)",
		Kernel:           "6.8.0-1015-intel",
		ContainerRuntime: "containerd://2.0.4",
		RuntimeHandlers:  []string{HandlerRunc, HandlerKataTDX, HandlerKataSNP, HandlerVNode},
		Drivers:          []string{"tdx_guest"},
	}
}

// namespace creates a namespace (waiting for its default ServiceAccount)
// and deletes it when the test ends.
func namespace(t testing.TB) string {
	t.Helper()
	c := tenant(t)
	ctx := context.Background()
	ns := uniq("ns")
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	eventually(t, 30*time.Second, "default ServiceAccount in "+ns, func() (bool, string) {
		_, err := c.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
	return ns
}

// runtimeClass creates a uniquely named RuntimeClass for handler.
func runtimeClass(t testing.TB, handler string) string {
	t.Helper()
	c := tenant(t)
	name := uniq(handler)
	rc := &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Handler: handler}
	if _, err := c.NodeV1().RuntimeClasses().Create(context.Background(), rc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.NodeV1().RuntimeClasses().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	return name
}

// podOn builds a pod bound to a node.
func podOn(ns, node, rc string, annotations map[string]string, containers ...corev1.Container) *corev1.Pod {
	if len(containers) == 0 {
		containers = []corev1.Container{{Name: "app", Image: "registry.example/app:1.0"}}
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: uniq("pod"), Namespace: ns, Annotations: annotations},
		Spec:       corev1.PodSpec{NodeName: node, Containers: containers, TerminationGracePeriodSeconds: ptrTo(int64(30))},
	}
	if rc != "" {
		p.Spec.RuntimeClassName = &rc
	}
	return p
}

func create(t testing.TB, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	got, err := tenant(t).CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod: %v", err)
	}
	return got
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, detail := cond()
		if ok {
			return
		}
		last = detail
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last: %s", timeout, what, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitPod waits until cond holds for the pod and returns it.
func waitPod(t testing.TB, ns, name string, timeout time.Duration, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	eventually(t, timeout, fmt.Sprintf("pod %s/%s: %s", ns, name, what), func() (bool, string) {
		p, err := tenant(t).CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		pod = p
		return cond(p), describePod(p)
	})
	return pod
}

func describePod(p *corev1.Pod) string {
	var b strings.Builder
	fmt.Fprintf(&b, "phase=%s reason=%q message=%q", p.Status.Phase, p.Status.Reason, p.Status.Message)
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		fmt.Fprintf(&b, " [%s restarts=%d", cs.Name, cs.RestartCount)
		switch {
		case cs.State.Waiting != nil:
			fmt.Fprintf(&b, " waiting %s %q", cs.State.Waiting.Reason, cs.State.Waiting.Message)
		case cs.State.Running != nil:
			fmt.Fprintf(&b, " running")
		case cs.State.Terminated != nil:
			fmt.Fprintf(&b, " terminated %d %s %q", cs.State.Terminated.ExitCode, cs.State.Terminated.Reason, cs.State.Terminated.Message)
		}
		b.WriteString("]")
	}
	return b.String()
}

func phaseIs(ph corev1.PodPhase) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool { return p.Status.Phase == ph }
}

// waitEvent waits for an event with reason about the pod and returns it.
func waitEvent(t testing.TB, ns, pod, reason string, timeout time.Duration, match func(corev1.Event) bool) corev1.Event {
	t.Helper()
	var found corev1.Event
	sel := fields.Set{"involvedObject.name": pod, "reason": reason}.AsSelector().String()
	eventually(t, timeout, fmt.Sprintf("event %s for %s/%s", reason, ns, pod), func() (bool, string) {
		list, err := tenant(t).CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			return false, err.Error()
		}
		var msgs []string
		for _, e := range list.Items {
			if match == nil || match(e) {
				found = e
				return true, ""
			}
			msgs = append(msgs, fmt.Sprintf("%q x%d", e.Message, e.Count))
		}
		return false, fmt.Sprintf("%d non-matching: %s", len(list.Items), strings.Join(msgs, "; "))
	})
	return found
}

// events lists the events with reason about the pod.
func events(t testing.TB, ns, pod, reason string) []corev1.Event {
	t.Helper()
	sel := fields.Set{"involvedObject.name": pod, "reason": reason}.AsSelector().String()
	list, err := tenant(t).CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func isForbidden(err error) bool { return apierrors.IsForbidden(err) }
