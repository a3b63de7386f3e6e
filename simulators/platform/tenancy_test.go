package platform

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/faults"
)

// Two tenants' platforms share one bare-metal inventory, as one vCluster
// Platform serves several tenants: a machine backs at most one node, in
// one tenant. The node-shared-across-tenants fault breaks exactly that.
func TestMachineNeverJoinsTwoTenants(t *testing.T) {
	for _, fault := range []bool{false, true} {
		t.Run(fmt.Sprintf("fault=%v", fault), func(t *testing.T) {
			inv := fmt.Sprintf("t-two-%v", fault)
			shared := func(c *Config) {
				c.InventoryNamespace = "metal3-" + inv
				c.Inventory = DefaultInventory()
				for i := range c.Inventory {
					c.Inventory[i].Name = inv + "-" + c.Inventory[i].Name
				}
			}
			var fsB faults.Set
			if fault {
				fsB = faults.Set{FaultNodeSharedAcrossTenants: true}
			}
			pool := func(tenant string) Pool {
				return Pool{Name: "tdx-" + tenant, Provider: "bare-metal", NodeLabels: map[string]string{"cctest.dev/tenant": tenant},
					Requirements: []mgmt.Requirement{{Property: "confidential-compute", Operator: mgmt.OpIn, Values: []string{"tdx"}}}}
			}
			ja, _, tenant := startPlatform(t, inv+"-a", []Pool{pool("a")}, nameGate{}, nil, shared)
			jb, _, _ := startPlatform(t, inv+"-b", []Pool{pool("b")}, nameGate{}, fsB, shared)

			// Two pods per tenant, each filling a tdx-large node (64 CPU).
			ns := inv
			for _, tn := range []string{"a", "b"} {
				for i := 0; i < 2; i++ {
					bigPod(t, tenant, ns, fmt.Sprintf("%s-%d", tn, i), map[string]string{"confidential-compute": "tdx", "cctest.dev/tenant": tn})
				}
			}
			waitFor(t, "four nodes joined across the two tenants", func(ctx context.Context) (bool, error) {
				return len(joinedOf(ja))+len(joinedOf(jb)) >= 4, nil
			})
			owner := map[string]string{}
			var shared2 []string
			for tn, j := range map[string]*apiJoiner{"a": ja, "b": jb} {
				for _, r := range joinedOf(j) {
					if prev, ok := owner[r.Machine.Name]; ok {
						shared2 = append(shared2, fmt.Sprintf("machine %s backs node %s and %s", r.Machine.Name, prev, tn+"/"+r.NodeName))
					}
					owner[r.Machine.Name] = tn + "/" + r.NodeName
				}
			}
			if !fault && len(shared2) > 0 {
				t.Errorf("a machine joined twice: %v", shared2)
			}
			if fault && len(shared2) == 0 {
				t.Errorf("with node-shared-across-tenants no machine was shared (joined: %v)", owner)
			}
		})
	}
}

func joinedOf(j *apiJoiner) []JoinRequest {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]JoinRequest{}, j.joined...)
}

// bigPod creates a pending pod that needs a whole 64-CPU node.
func bigPod(t *testing.T, c kubernetes.Interface, ns, name string, sel map[string]string) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	waitFor(t, "default service account", func(ctx context.Context) (bool, error) {
		_, err := c.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{NodeSelector: sel,
		Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		Containers: []corev1.Container{{Name: "app", Image: "example.invalid/app:1",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("40")}}}}}}
	if _, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CoreV1().Pods(ns).Delete(context.Background(), name, *metav1.NewDeleteOptions(0)) })
}
