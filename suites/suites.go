// Package suites holds the Ginkgo specs for the confidential-compute
// reference architecture, one file per behaviour. They use only the
// framework (Kubernetes APIs and evidence), so the same specs gate the
// embedded platform and qualify real clusters.
package suites

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/cctest/cctest/framework"
)

var c *framework.Clients

var _ = BeforeSuite(func(ctx SpecContext) {
	var err error
	c, err = framework.NewClients()
	if err != nil {
		Fail("connect to the environment: " + err.Error())
	}
	framework.RecordEnvironment(ctx, c)
})

// podSpec describes a workload a spec creates.
type podSpec struct {
	name         string
	runtimeClass string
	selector     map[string]string
	antiAffinity string // pods with this app label never share a node
	labels       map[string]string
}

func createPod(ctx context.Context, ns string, p podSpec) *corev1.Pod {
	GinkgoHelper()
	created, err := c.Tenant.CoreV1().Pods(ns).Create(ctx, buildPod(p), metav1.CreateOptions{})
	if err != nil {
		Fail(fmt.Sprintf("create pod %s/%s: %v", ns, p.name, err))
	}
	return created
}

func buildPod(p podSpec) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.name, Labels: p.labels},
		Spec: corev1.PodSpec{
			NodeSelector: p.selector,
			Containers: []corev1.Container{{Name: "app", Image: "ghcr.io/example/confidential-app:1.0.0",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}},
		},
	}
	if p.runtimeClass != "" {
		pod.Spec.RuntimeClassName = &p.runtimeClass
	}
	if p.antiAffinity != "" {
		if pod.Labels == nil {
			pod.Labels = map[string]string{}
		}
		pod.Labels["app"] = p.antiAffinity
		pod.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": p.antiAffinity}},
				TopologyKey:   "kubernetes.io/hostname"}}}}
	}
	return pod
}

// waitRunning waits for a pod to run and returns it. On timeout the failure
// says where the pod is stuck, from its status and events.
func waitRunning(ctx context.Context, ns, name string, base time.Duration) *corev1.Pod {
	GinkgoHelper()
	var pod *corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, framework.Timeout(base), true, func(ctx context.Context) (bool, error) {
		p, err := c.Tenant.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		pod = p
		if p.Status.Phase == corev1.PodFailed {
			return false, fmt.Errorf("pod failed: %s: %s", p.Status.Reason, p.Status.Message)
		}
		if p.Status.Phase == corev1.PodRunning {
			return true, nil
		}
		// Give up early on what does not heal by waiting.
		for _, e := range events(ctx, ns, name, "") {
			if e.Type == corev1.EventTypeWarning && terminalReasons[e.Reason] {
				return false, fmt.Errorf("%s: %s", e.Reason, e.Message)
			}
		}
		return false, nil
	})
	if err != nil {
		Fail(fmt.Sprintf("pod %s/%s is not Running after %s: %s", ns, name, framework.Timeout(base), whyNotRunning(ctx, ns, pod, err)))
	}
	return pod
}

// terminalReasons are pod events after which waiting longer is pointless:
// a missing runtime handler, no node type at all, failed attestation.
var terminalReasons = map[string]bool{"FailedCreatePodSandBox": true, "NoMatchingNodeType": true, "AttestationFailed": true, "CreateContainerError": true}

func whyNotRunning(ctx context.Context, ns string, pod *corev1.Pod, err error) string {
	if pod == nil {
		return err.Error()
	}
	parts := []string{fmt.Sprintf("phase %s", pod.Status.Phase)}
	if pod.Status.Message != "" {
		parts = append(parts, fmt.Sprintf("%s: %s", pod.Status.Reason, pod.Status.Message))
	}
	if pod.Spec.NodeName == "" {
		parts = append(parts, "not scheduled")
	} else {
		parts = append(parts, "on node "+pod.Spec.NodeName)
	}
	for _, e := range events(ctx, ns, pod.Name, "") {
		if e.Type == corev1.EventTypeWarning {
			parts = append(parts, fmt.Sprintf("event %s: %s", e.Reason, e.Message))
		}
	}
	return strings.Join(parts, "; ")
}

// events lists the events of one object (reason "" = all).
func events(ctx context.Context, ns, name, reason string) []corev1.Event {
	sel := "involvedObject.name=" + name
	if reason != "" {
		sel += ",reason=" + reason
	}
	evs, err := c.Tenant.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return nil
	}
	return evs.Items
}

// waitEvent waits for an event on an object and returns its message.
func waitEvent(ctx context.Context, ns, name, reason string, base time.Duration) string {
	GinkgoHelper()
	var msg string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, framework.Timeout(base), true, func(ctx context.Context) (bool, error) {
		for _, e := range events(ctx, ns, name, "") {
			if e.Reason == reason {
				msg = e.Message
				return true, nil
			}
			if e.Type == corev1.EventTypeWarning && terminalReasons[e.Reason] {
				return false, fmt.Errorf("%s instead: %s", e.Reason, e.Message)
			}
		}
		return false, nil
	})
	if err != nil {
		Fail(fmt.Sprintf("no %s event for %s/%s: %v", reason, ns, name, err))
	}
	return msg
}

func node(ctx context.Context, name string) *corev1.Node {
	GinkgoHelper()
	n, err := c.Tenant.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		Fail(fmt.Sprintf("get node %s: %v", name, err))
	}
	return n
}

// expectLabels fails naming every label that differs.
func expectLabels(n *corev1.Node, want map[string]string) {
	GinkgoHelper()
	var bad []string
	for k, v := range want {
		if got, ok := n.Labels[k]; !ok || got != v {
			bad = append(bad, fmt.Sprintf("%s=%q (want %q)", k, got, v))
		}
	}
	if len(bad) > 0 {
		Fail(fmt.Sprintf("node %s labels wrong: %s", n.Name, strings.Join(bad, ", ")))
	}
}

// spec registers a spec name with the file:line that declares it, so a
// duplicate name fails the suite build naming both places.
func spec(name string) string {
	_, file, line, _ := runtime.Caller(1)
	return framework.Spec(name, fmt.Sprintf("%s:%d", filepath.Base(file), line))
}
