package suites

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cctest/cctest/probe"
)

// probePod builds a pod that runs one probe and terminates; its verdict is
// the exit code and the termination message, as on any real cluster.
func (s *suite) probePod(name, runtimeClass string, selector, labels map[string]string, args ...string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			NodeSelector:  selector,
			Containers: []corev1.Container{{Name: "probe", Image: s.ProbeImage, ImagePullPolicy: corev1.PullIfNotPresent, Args: append([]string{"probe"}, args...),
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
func (s *suite) runProbe(ctx context.Context, ns string, pod *corev1.Pod) (*corev1.Pod, probe.Result) {
	GinkgoHelper()
	return s.runProbeIn(ctx, s.c.Tenant, ns, pod)
}

// runProbeIn is runProbe in any tenant (e.g. another tenant's, for the
// tenancy spec); the tenant's pod events end a hopeless wait early.
func (s *suite) runProbeIn(ctx context.Context, tenant kubernetes.Interface, ns string, pod *corev1.Pod) (*corev1.Pod, probe.Result) {
	GinkgoHelper()
	created, err := tenant.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred(), "create probe pod %s/%s", ns, pod.Name)
	return s.awaitProbe(ctx, tenant, ns, created)
}

// awaitProbe waits for a created probe pod to terminate and returns it and
// its parsed result (so a spec can start several probes, then read each).
func (s *suite) awaitProbe(ctx context.Context, tenant kubernetes.Interface, ns string, pod *corev1.Pod) (*corev1.Pod, probe.Result) {
	GinkgoHelper()
	created := pod
	var last *corev1.Pod
	terminated := func(ctx context.Context) error {
		p, err := tenant.CoreV1().Pods(ns).Get(ctx, created.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		last = p
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Terminated != nil {
				return nil
			}
		}
		if p.Status.Phase == corev1.PodFailed {
			return StopTrying(fmt.Sprintf("probe %s/%s did not run: the pod failed before the probe ran: %s: %s", ns, pod.Name, p.Status.Reason, p.Status.Message))
		}
		if tenant != s.c.Tenant {
			return fmt.Errorf("probe %s/%s did not run within %s: phase %s", ns, pod.Name, s.Timeout(45*time.Second), p.Status.Phase)
		}
		e, why := s.notRunning(ctx, ns, p)
		if e != nil {
			return StopTrying(fmt.Sprintf("probe %s/%s did not run: %s: %s (%s)", ns, pod.Name, e.Reason, e.Message, why))
		}
		return fmt.Errorf("probe %s/%s did not run within %s: %s", ns, pod.Name, s.Timeout(45*time.Second), why)
	}
	Eventually(ctx, terminated).WithTimeout(s.Timeout(45*time.Second)).WithPolling(podPoll).Should(Succeed(), "probe %s/%s did not run", ns, pod.Name)
	term := last.Status.ContainerStatuses[0].State.Terminated
	r, perr := probe.ParseMessage(term.Message)
	Expect(perr).NotTo(HaveOccurred(), "probe %s/%s exited %d with an unreadable result %q", ns, pod.Name, term.ExitCode, term.Message)
	return last, r
}
