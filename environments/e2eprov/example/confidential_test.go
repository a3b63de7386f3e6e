package example

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/e2e-framework/klient"
	"sigs.k8s.io/e2e-framework/klient/k8s"
	"sigs.k8s.io/e2e-framework/klient/wait"
	"sigs.k8s.io/e2e-framework/klient/wait/conditions"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/cctest/cctest/attest/gatetrace"
	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/internal/testpolicy"
	"github.com/cctest/cctest/simulators/tee"
)

type ctxKey string

// The seed's cloud path: a plain pod on a TDX Confidential VM node (the
// whole VM is the TEE, so the pod needs no RuntimeClass). In the embedded
// tenant no such node exists until the pod asks for one: auto nodes
// create a c3-tdx VM, its bootstrap runs `cctest gate` before the join,
// and only a VM whose evidence passes becomes a node the pod can run on.
func TestConfidentialPodRunsOnAnAttestedTDXNode(t *testing.T) {
	pod := cvmPod()
	f := features.New("confidential workload on an attested TDX Confidential VM node").
		WithLabel("tee", "tdx").
		Setup(func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			ns, err := createInNewNamespace(ctx, cfg.Client(), pod)
			if err != nil {
				t.Fatal(err)
			}
			return context.WithValue(ctx, ctxKey("namespace"), ns)
		}).
		Assess("the pod runs on a node labelled confidential-compute=tdx", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			node, err := runsOnTDXNode(ctx, cfg.Client(), pod, 2*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return context.WithValue(ctx, ctxKey("node"), node)
		}).
		Assess("the node joined through a passing TDX attestation", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			node := ctx.Value(ctxKey("node")).(*corev1.Node)
			if err := joinedAttested(node, testpolicy.Platform(t)); err != nil {
				t.Fatal(err)
			}
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			if ns, ok := ctx.Value(ctxKey("namespace")).(*corev1.Namespace); ok {
				cfg.Client().Resources().Delete(ctx, ns)
			}
			return ctx
		}).
		Feature()

	testenv.Test(t, f)
}

// cvmPod asks for the TDX Confidential VM node type and tolerates the
// taint that keeps other pods off Confidential VMs.
func cvmPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "confidential-workload", Labels: map[string]string{"app": "confidential-workload"}},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{"confidential-compute": "tdx", "vcluster.com/node-type": "c3-tdx"},
			Tolerations:  []corev1.Toleration{{Key: "cctest.dev/confidential-vm", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
			Containers:   []corev1.Container{{Name: "app", Image: "ghcr.io/example/confidential-app:1.0.0"}},
		},
	}
}

func createInNewNamespace(ctx context.Context, c klient.Client, pod *corev1.Pod) (*corev1.Namespace, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: envconf.RandomName("cc", 10)}}
	if err := c.Resources().Create(ctx, ns); err != nil {
		return nil, err
	}
	pod.Namespace = ns.Name
	return ns, c.Resources().Create(ctx, pod)
}

// runsOnTDXNode waits for the pod to run and returns its node, which must
// advertise TDX.
func runsOnTDXNode(ctx context.Context, c klient.Client, pod *corev1.Pod, timeout time.Duration) (*corev1.Node, error) {
	r := c.Resources()
	started := func(o k8s.Object) bool {
		ph := o.(*corev1.Pod).Status.Phase
		return ph == corev1.PodRunning || ph == corev1.PodFailed || ph == corev1.PodSucceeded
	}
	err := wait.For(conditions.New(r).ResourceMatch(pod, started), wait.WithTimeout(timeout), wait.WithInterval(200*time.Millisecond))
	if err != nil || pod.Status.Phase != corev1.PodRunning {
		r.Get(ctx, pod.Name, pod.Namespace, pod)
		return nil, fmt.Errorf("pod %s/%s not running after %s: phase %s: %s", pod.Namespace, pod.Name, timeout, pod.Status.Phase, whyNot(pod, err))
	}
	var node corev1.Node
	if err := r.Get(ctx, pod.Spec.NodeName, "", &node); err != nil {
		return nil, err
	}
	if node.Labels["confidential-compute"] != "tdx" {
		return nil, fmt.Errorf("pod runs on %s with labels %v, not on a TDX node", node.Name, node.Labels)
	}
	return &node, nil
}

// whyNot is the pod's own account of why it does not run.
func whyNot(pod *corev1.Pod, err error) string {
	if pod.Status.Message != "" {
		return pod.Status.Reason + ": " + pod.Status.Message
	}
	for _, c := range pod.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Message != "" {
			return string(c.Type) + ": " + c.Message
		}
	}
	if err != nil {
		return err.Error()
	}
	return "no reason given"
}

// joinedAttested reads the trace `cctest gate` left on the node and
// verifies its evidence itself: a TDX quote bound to this node that passes
// the platform's policy.
func joinedAttested(node *corev1.Node, p *policy.Policy) error {
	tr, err := gatetrace.Decode(node.Annotations[gatetrace.Annotation])
	if err != nil {
		return fmt.Errorf("node %s: no readable gate trace (%s): %v", node.Name, gatetrace.Annotation, err)
	}
	if tr.Node() != node.Name {
		return fmt.Errorf("node %s carries the gate trace of node %s", node.Name, tr.Node())
	}
	rd, err := tr.ReportData()
	if err != nil {
		return err
	}
	v := verifier.New(verifier.Options{TestRoots: tee.TestRoots()}).Verify(tr.Evidence, p, rd[:])
	if !v.Pass || v.TEE != "tdx" {
		return fmt.Errorf("node %s joined without a passing TDX attestation (pass=%v tee=%s: %s)", node.Name, v.Pass, v.TEE, v.Reason)
	}
	return nil
}
