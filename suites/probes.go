package suites

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/cctest/cctest/framework"
	"github.com/cctest/cctest/probe"
)

// probePod builds a pod that runs one probe and terminates; its verdict is
// the exit code and the termination message, as on any real cluster.
func probePod(name, runtimeClass string, selector, labels map[string]string, args ...string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			NodeSelector:  selector,
			Containers: []corev1.Container{{Name: "probe", Image: framework.ProbeImage(), ImagePullPolicy: corev1.PullIfNotPresent, Args: append([]string{"probe"}, args...),
				Env: []corev1.EnvVar{
					{Name: probe.EnvPodUID, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.uid"}}},
					{Name: probe.EnvNodeName, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
				}}},
		},
	}
	if runtimeClass != "" {
		p.Spec.RuntimeClassName = &runtimeClass
	}
	return p
}

// runProbe creates a probe pod and returns the pod and its parsed result
// once it terminated. A pod that never terminates fails the spec with the
// reason it is stuck.
func runProbe(ctx context.Context, ns string, pod *corev1.Pod) (*corev1.Pod, probe.Result) {
	GinkgoHelper()
	created, err := c.Tenant.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		Fail(fmt.Sprintf("create probe pod %s/%s: %v", ns, pod.Name, err))
	}
	var last *corev1.Pod
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, framework.Timeout(45*time.Second), true, func(ctx context.Context) (bool, error) {
		p, err := c.Tenant.CoreV1().Pods(ns).Get(ctx, created.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = p
		if p.Status.Phase == corev1.PodFailed && len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].State.Terminated == nil {
			return false, fmt.Errorf("pod failed before the probe ran: %s: %s", p.Status.Reason, p.Status.Message)
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Terminated != nil {
				return true, nil
			}
		}
		if p.Status.Phase == corev1.PodFailed {
			return false, fmt.Errorf("pod failed before the probe ran: %s: %s", p.Status.Reason, p.Status.Message)
		}
		for _, e := range events(ctx, ns, created.Name, "") {
			if e.Type == corev1.EventTypeWarning && terminalReasons[e.Reason] {
				return false, fmt.Errorf("%s: %s", e.Reason, e.Message)
			}
		}
		return false, nil
	})
	if err != nil {
		Fail(fmt.Sprintf("probe %s/%s did not run: %s", ns, pod.Name, whyNotRunning(ctx, ns, last, err)))
	}
	term := last.Status.ContainerStatuses[0].State.Terminated
	r, perr := probe.ParseMessage(term.Message)
	if perr != nil {
		Fail(fmt.Sprintf("probe %s/%s exited %d with an unreadable result %q: %v", ns, pod.Name, term.ExitCode, term.Message, perr))
	}
	return last, r
}
