package controlplane_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	"github.com/cctest/cctest/internal/testbin"
	"github.com/cctest/cctest/simulators/controlplane"
)

var pair *controlplane.Pair

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	tb := &mainTB{}
	bin := testbin.Path(tb)
	dir, err := os.MkdirTemp("", "cctest-cp-")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer os.RemoveAll(dir)
	pair, err = controlplane.StartPair(context.Background(), bin, dir)
	if err != nil {
		fmt.Println("start platform:", err)
		return 1
	}
	defer pair.Stop()
	return m.Run()
}

func client(t *testing.T, kubeconfig string) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return kubernetes.NewForConfigOrDie(cfg)
}

// readyNode registers a Node and marks it Ready the way a kubelet would,
// so the scheduler considers it.
func readyNode(t *testing.T, c kubernetes.Interface, name string, labels map[string]string) {
	t.Helper()
	ctx := context.Background()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if _, err := c.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	status := corev1.NodeStatus{
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
		Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi"), corev1.ResourcePods: resource.MustParse("110")},
		Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi"), corev1.ResourcePods: resource.MustParse("110")},
	}
	// The node lifecycle controller writes to new nodes too: retry on conflict.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		n.Status = status
		_, err = c.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Admission taints new nodes not-ready; a kubelet's Ready status makes the
	// node lifecycle controller lift it. Wait for that instead of faking it.
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return len(n.Spec.Taints) == 0, nil
	})
	if err != nil {
		t.Fatalf("node %s still tainted: %v", name, err)
	}
}

func waitNamespaceReady(t *testing.T, c kubernetes.Interface, ns string) {
	t.Helper()
	if _, err := c.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Pods are rejected until the controller-manager creates the default ServiceAccount.
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := c.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("no default ServiceAccount in %s: %v", ns, err)
	}
}

func pod(name, rc string, selector map[string]string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			NodeSelector: selector,
			Containers:   []corev1.Container{{Name: "app", Image: "example.invalid/app:1"}},
		},
	}
	if rc != "" {
		p.Spec.RuntimeClassName = &rc
	}
	return p
}

func TestTenantSchedulingAndRuntimeClassAdmission(t *testing.T) {
	ctx := context.Background()
	c := client(t, pair.TenantKubeconfig())
	readyNode(t, c, "tee-node", map[string]string{"confidential-compute": "tdx"})
	readyNode(t, c, "plain-node", map[string]string{"confidential-compute": "none"})
	waitNamespaceReady(t, c, "sched")

	rc := &nodev1.RuntimeClass{
		ObjectMeta: metav1.ObjectMeta{Name: "kata-qemu-tdx", Labels: map[string]string{"confidential-compute": "tdx"}},
		Handler:    "kata-qemu-tdx",
		Overhead:   &nodev1.Overhead{PodFixed: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("160Mi"), corev1.ResourceCPU: resource.MustParse("250m")}},
		Scheduling: &nodev1.Scheduling{NodeSelector: map[string]string{"confidential-compute": "tdx"}},
	}
	if _, err := c.NodeV1().RuntimeClasses().Create(ctx, rc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	t.Run("RuntimeClass admission merges scheduling and overhead", func(t *testing.T) {
		p, err := c.CoreV1().Pods("sched").Create(ctx, pod("kata", "kata-qemu-tdx", nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Spec.NodeSelector["confidential-compute"] != "tdx" {
			t.Errorf("nodeSelector not merged from the RuntimeClass: %v", p.Spec.NodeSelector)
		}
		if got := p.Spec.Overhead.Memory().String(); got != "160Mi" {
			t.Errorf("overhead memory = %s, want 160Mi", got)
		}
		bound := waitBound(t, c, "sched", "kata")
		if bound != "tee-node" {
			t.Errorf("kata pod bound to %q, want tee-node", bound)
		}
	})

	t.Run("nodeSelector pod lands on the matching node only", func(t *testing.T) {
		for i := 0; i < 4; i++ {
			name := fmt.Sprintf("sel-%d", i)
			if _, err := c.CoreV1().Pods("sched").Create(ctx, pod(name, "", map[string]string{"confidential-compute": "tdx"}), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if bound := waitBound(t, c, "sched", name); bound != "tee-node" {
				t.Errorf("%s bound to %q, want tee-node", name, bound)
			}
		}
	})

	t.Run("unsatisfiable pod stays Pending with FailedScheduling", func(t *testing.T) {
		if _, err := c.CoreV1().Pods("sched").Create(ctx, pod("nowhere", "", map[string]string{"confidential-compute": "sev-snp"}), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var msg string
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			evs, err := c.CoreV1().Events("sched").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=nowhere,reason=FailedScheduling"})
			if err != nil || len(evs.Items) == 0 {
				return false, nil
			}
			msg = evs.Items[0].Message
			return true, nil
		})
		if err != nil {
			t.Fatal("no FailedScheduling event for the unsatisfiable pod")
		}
		if !strings.Contains(msg, "didn't match Pod's node affinity/selector") {
			t.Errorf("FailedScheduling message does not name the selector: %q", msg)
		}
		p, _ := c.CoreV1().Pods("sched").Get(ctx, "nowhere", metav1.GetOptions{})
		if p.Spec.NodeName != "" || p.Status.Phase != corev1.PodPending {
			t.Errorf("unsatisfiable pod: node %q phase %s, want unbound Pending", p.Spec.NodeName, p.Status.Phase)
		}
	})

	t.Run("missing RuntimeClass is rejected by the API server", func(t *testing.T) {
		_, err := c.CoreV1().Pods("sched").Create(ctx, pod("norc", "kata-qemu-snp", nil), metav1.CreateOptions{})
		want := `pods "norc" is forbidden: pod rejected: RuntimeClass "kata-qemu-snp" not found`
		if err == nil || err.Error() != want {
			t.Fatalf("err = %v, want %q", err, want)
		}
	})
}

func waitBound(t *testing.T, c kubernetes.Interface, ns, name string) string {
	t.Helper()
	var node string
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := c.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		node = p.Spec.NodeName
		return node != "", nil
	})
	if err != nil {
		t.Fatalf("pod %s/%s not bound: %v", ns, name, err)
	}
	return node
}

func TestHostAndTenantAreSeparate(t *testing.T) {
	ctx := context.Background()
	host, tenant := client(t, pair.HostKubeconfig()), client(t, pair.TenantKubeconfig())
	if _, err := host.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "only-in-host"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tenant.CoreV1().Namespaces().Get(ctx, "only-in-host", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("tenant sees the host's namespace (err=%v)", err)
	}
	if pair.Host.Ready.Server == pair.Tenant.Ready.Server {
		t.Fatalf("host and tenant share one API server %s", pair.Host.Ready.Server)
	}
	v, err := tenant.Discovery().ServerVersion()
	if err != nil || v.GitVersion != "v1.37.2" {
		t.Fatalf("tenant version = %v (%v), want v1.37.2", v, err)
	}
}

type mainTB struct{ testing.TB }

func (mainTB) Helper() {}
func (mainTB) Fatalf(format string, args ...any) {
	fmt.Printf(format+"\n", args...)
	os.Exit(1)
}
