package embedded

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/cctest/cctest/config"
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/fixtures"
	"github.com/cctest/cctest/internal/testbin"
	"github.com/cctest/cctest/simulators/tee"
)

func start(t *testing.T, fs faults.Set) *Platform {
	t.Helper()
	var log bytes.Buffer
	p, err := Start(context.Background(), Options{Dir: t.TempDir(), Binary: testbin.Path(t), Faults: fs, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("platform log:\n%s", log.String())
		}
	})
	return p
}

// seedWorkload creates the seed's confidential-workload pod in namespace ns.
func seedWorkload(t *testing.T, c kubernetes.Interface, ns string, prepare ...func(*corev1.Pod)) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "default ServiceAccount", func(ctx context.Context) (bool, error) {
		_, err := c.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	b, err := fixtures.Read("reference/workload.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := config.LoadObjects("workload.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	pod := objs[0].Obj.(*corev1.Pod)
	for _, f := range prepare {
		f(pod)
	}
	if _, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t testing.TB, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 120*time.Second, true, cond); err != nil {
		t.Fatalf("timed out waiting for %s", what)
	}
}

func events(c kubernetes.Interface, ns, obj, reason string) []corev1.Event {
	evs, err := c.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + obj + ",reason=" + reason})
	if err != nil {
		return nil
	}
	return evs.Items
}

// TestSeedWorkloadRunsOnAttestedTDXNode is the platform issue's "done when":
// the seed's pod causes a tdx-large NodeClaim, an attested TDX node joins
// labelled confidential-compute=tdx, and the pod runs there after its own
// attestation.
func TestSeedWorkloadRunsOnAttestedTDXNode(t *testing.T) {
	p := start(t, nil)
	seedWorkload(t, p.Tenant, "app")
	var pod *corev1.Pod
	waitFor(t, "confidential-workload Running", func(ctx context.Context) (bool, error) {
		var err error
		pod, err = p.Tenant.CoreV1().Pods("app").Get(ctx, "confidential-workload", metav1.GetOptions{})
		return err == nil && pod.Status.Phase == corev1.PodRunning, nil
	})
	n, err := p.Tenant.CoreV1().Nodes().Get(context.Background(), pod.Spec.NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Labels["confidential-compute"] != "tdx" || n.Labels["vcluster.com/node-type"] != "tdx-large" {
		t.Errorf("node labels %v, want confidential-compute=tdx and node type tdx-large", n.Labels)
	}
	emitsOnlyTheContract(t, p)
}

// TestDebugTDGuestNeverStarts: a bare-metal host is no TEE guest and joins
// on its capability; with the debug-td fault the seed workload's own Kata
// guest is a debug TD, so its attestation fails and it never runs.
func TestDebugTDGuestNeverStarts(t *testing.T) {
	p := start(t, faults.Set{tee.FaultDebugTD: true})
	// CoCo attests lazily: the guest attests when it needs a secret, so
	// the workload needs one.
	var uri string
	seedWorkload(t, p.Tenant, "app", func(pod *corev1.Pod) { uri = sealed(t, p, "app", pod) })
	msg := createContainerError(t, p.Tenant, "app", "confidential-workload")
	if !strings.Contains(msg, uri) || !strings.Contains(strings.ToLower(msg), "debug") {
		t.Errorf("the failure does not name the secret %s and why (debug): %q", uri, msg)
	}
	pod, err := p.Tenant.CoreV1().Pods("app").Get(context.Background(), "confidential-workload", metav1.GetOptions{})
	if err != nil || pod.Status.Phase == corev1.PodRunning {
		t.Errorf("a debug TD guest runs: %v %v", err, pod.Status.Phase)
	}
}
