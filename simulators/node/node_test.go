package node

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/cctest/cctest/internal/testenv"
)

func TestJoinedNodeIsReadyAndSchedulable(t *testing.T) {
	f := startFleet(t, func(c *Config) { c.LeaseRenew = time.Second })
	spec := join(t, f, NodeSpec{
		Labels: map[string]string{
			"confidential-compute":             "tdx",
			"node.kubernetes.io/instance-type": "tdx-large",
			"node-role.kubernetes.io/tee":      "", // a kubelet may not set this: the operator does
		},
		CPU: resource.MustParse("64"), Memory: resource.MustParse("512Gi"), Pods: 50,
		Extended: corev1.ResourceList{"tdx.intel.com/keys": resource.MustParse("16")},
		Image:    confidentialImage(), TEE: "tdx",
	})
	c := tenant(t)
	ctx := context.Background()

	var node *corev1.Node
	eventually(t, 60*time.Second, "Ready node without the not-ready taint", func() (bool, string) {
		n, err := c.CoreV1().Nodes().Get(ctx, spec.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		node = n
		for _, tt := range n.Spec.Taints {
			if tt.Key == corev1.TaintNodeNotReady {
				return false, "still tainted " + tt.ToString()
			}
		}
		return true, ""
	})
	var ready *corev1.NodeCondition
	for i, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			ready = &node.Status.Conditions[i]
		}
	}
	if ready == nil || ready.Status != corev1.ConditionTrue || ready.Reason != "KubeletReady" {
		t.Fatalf("Ready condition = %+v", ready)
	}
	info := node.Status.NodeInfo
	if info.KernelVersion != "6.8.0-1015-intel" || info.ContainerRuntimeVersion != "containerd://2.0.4" || info.KubeletVersion != "v1.37.2" || info.OSImage == "" {
		t.Errorf("nodeInfo = %+v", info)
	}
	for k, want := range map[string]string{"confidential-compute": "tdx", "node-role.kubernetes.io/tee": "", corev1.LabelHostname: spec.Name, corev1.LabelOSStable: "linux"} {
		if got, ok := node.Labels[k]; !ok || got != want {
			t.Errorf("label %s = %q (present %v), want %q", k, got, ok, want)
		}
	}
	if got := node.Status.Allocatable.Cpu().String(); got != "64" {
		t.Errorf("allocatable cpu = %s", got)
	}
	if got := node.Status.Capacity["tdx.intel.com/keys"]; got.Value() != 16 {
		t.Errorf("extended capacity = %s", got.String())
	}
	var handlers []string
	for _, h := range node.Status.RuntimeHandlers {
		handlers = append(handlers, h.Name)
	}
	if strings.Join(handlers, ",") != ",runc,kata-qemu-tdx,kata-qemu-snp,vnode" {
		t.Errorf("runtimeHandlers = %q", handlers)
	}
	if len(node.Status.Addresses) == 0 || !strings.HasPrefix(node.Status.Addresses[0].Address, "127.") {
		t.Errorf("addresses = %+v", node.Status.Addresses)
	}

	// The Lease is held by the node and renewed.
	lease, err := c.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, spec.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *lease.Spec.HolderIdentity != spec.Name || *lease.Spec.LeaseDurationSeconds != 40 || len(lease.OwnerReferences) != 1 || lease.OwnerReferences[0].UID != node.UID {
		t.Errorf("lease = %+v", lease)
	}
	first := lease.Spec.RenewTime.Time
	eventually(t, 10*time.Second, "lease renewal", func() (bool, string) {
		l, err := c.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, spec.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return l.Spec.RenewTime.After(first), l.Spec.RenewTime.String()
	})

	// The scheduler places a pod on it (not-ready taint gone, Ready).
	ns := namespace(t)
	p := podOn(ns, "", "", nil)
	p.Spec.NodeSelector = map[string]string{corev1.LabelHostname: spec.Name}
	create(t, p)
	got := waitPod(t, ns, p.Name, 60*time.Second, "Running", phaseIs(corev1.PodRunning))
	if got.Spec.NodeName != spec.Name {
		t.Errorf("scheduled to %q", got.Spec.NodeName)
	}
	waitEvent(t, "default", spec.Name, "NodeReady", 10*time.Second, nil)
}

func TestNodeRestrictionApplies(t *testing.T) {
	f := startFleet(t, nil)
	a := join(t, f, NodeSpec{Image: confidentialImage()})
	b := join(t, f, NodeSpec{Image: confidentialImage()})
	cfg, ok := f.NodeConfig(a.Name)
	if !ok {
		t.Fatal("no config for node a")
	}
	asA := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()

	// Node a may write its own status...
	own := []byte(`{"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"kubelet is posting ready status"}]}}`)
	if _, err := asA.CoreV1().Nodes().Patch(ctx, a.Name, types.StrategicMergePatchType, own, metav1.PatchOptions{}, "status"); err != nil {
		t.Fatalf("node %s patching its own status: %v", a.Name, err)
	}
	// ...but not node b's status, labels or lease.
	bad := []byte(`{"status":{"conditions":[{"type":"Ready","status":"False","reason":"Hijacked","message":"node a says so"}]}}`)
	_, err := asA.CoreV1().Nodes().Patch(ctx, b.Name, types.StrategicMergePatchType, bad, metav1.PatchOptions{}, "status")
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "is not allowed to modify node") {
		t.Fatalf("node a patching node b's status: err = %v, want Forbidden by NodeRestriction", err)
	}
	_, err = asA.CoordinationV1().Leases(corev1.NamespaceNodeLease).Patch(ctx, b.Name, types.MergePatchType, []byte(`{"spec":{"holderIdentity":"x"}}`), metav1.PatchOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("node a patching node b's lease: err = %v, want Forbidden", err)
	}
	// A node may not give itself labels a kubelet may not set, nor remove its taints.
	_, err = asA.CoreV1().Nodes().Patch(ctx, a.Name, types.MergePatchType, []byte(`{"metadata":{"labels":{"node-restriction.kubernetes.io/trusted":"yes"}}}`), metav1.PatchOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("node a setting a node-restriction label: err = %v, want Forbidden", err)
	}
	// A pod on b: node a cannot report its status or delete it.
	ns := namespace(t)
	p := create(t, podOn(ns, b.Name, "", nil))
	waitPod(t, ns, p.Name, 30*time.Second, "Running", phaseIs(corev1.PodRunning))
	_, err = asA.CoreV1().Pods(ns).Patch(ctx, p.Name, types.StrategicMergePatchType, []byte(`{"status":{"phase":"Failed"}}`), metav1.PatchOptions{}, "status")
	if !apierrors.IsForbidden(err) {
		t.Fatalf("node a patching the status of a pod on node b: err = %v, want Forbidden", err)
	}
	err = asA.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("node a deleting a pod on node b: err = %v, want Forbidden", err)
	}
	// The node's identity really is system:node:<name>.
	review, err := asA.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if review.Status.UserInfo.Username != "system:node:"+a.Name {
		t.Errorf("node identity = %q", review.Status.UserInfo.Username)
	}
}

func TestAdminCredentialsOption(t *testing.T) {
	f := startFleet(t, func(c *Config) { c.AdminCredentials = true; c.TenantPKIDir = "" })
	a := join(t, f, NodeSpec{})
	b := join(t, f, NodeSpec{})
	cfg, _ := f.NodeConfig(a.Name)
	asA := kubernetes.NewForConfigOrDie(cfg)
	// With shared admin credentials NodeRestriction cannot apply: the
	// reason per-node certificates are the default.
	bad := []byte(`{"metadata":{"annotations":{"cctest.dev/touched-by":"` + a.Name + `"}}}`)
	if _, err := asA.CoreV1().Nodes().Patch(context.Background(), b.Name, types.MergePatchType, bad, metav1.PatchOptions{}); err != nil {
		t.Fatalf("admin credentials: %v", err)
	}
	ns := namespace(t)
	p := create(t, podOn(ns, a.Name, "", nil))
	waitPod(t, ns, p.Name, 30*time.Second, "Running", phaseIs(corev1.PodRunning))
}

func TestRemoveDrainsAndDeletes(t *testing.T) {
	f := startFleet(t, nil)
	spec := NodeSpec{Name: uniq("node")}
	if err := f.Join(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	ns := namespace(t)
	p := create(t, podOn(ns, spec.Name, "", nil))
	waitPod(t, ns, p.Name, 30*time.Second, "Running", phaseIs(corev1.PodRunning))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := f.Remove(ctx, spec.Name); err != nil {
		t.Fatal(err)
	}
	c := tenant(t)
	if _, err := c.CoreV1().Pods(ns).Get(ctx, p.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("pod after drain: %v", err)
	}
	if _, err := c.CoreV1().Nodes().Get(ctx, spec.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("node after remove: %v", err)
	}
	if _, err := c.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, spec.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("lease after remove: %v", err)
	}
	if len(f.Nodes()) != 0 {
		t.Errorf("fleet still lists %v", f.Nodes())
	}
	if err := f.Remove(ctx, spec.Name); err == nil {
		t.Error("removing twice: no error")
	}
}

func TestBadInputIsNamed(t *testing.T) {
	_, tc := testenv.Configs(t)
	if _, err := NewFleet(Config{}); err == nil || !strings.Contains(err.Error(), "Config.Tenant") {
		t.Errorf("no tenant: %v", err)
	}
	if _, err := NewFleet(Config{Tenant: tc}); err == nil || !strings.Contains(err.Error(), "TenantPKIDir") {
		t.Errorf("no pki dir: %v", err)
	}
	if _, err := NewFleet(Config{Tenant: tc, TenantPKIDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "load tenant CA") {
		t.Errorf("empty pki dir: %v", err)
	}
	f, err := NewFleet(Config{Tenant: tc, TenantPKIDir: tenantPKI()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		spec NodeSpec
		want string
	}{
		{NodeSpec{Name: "Bad_Name"}, `name "Bad_Name"`},
		{NodeSpec{Name: "n1", TEE: "sgx"}, `tee "sgx"`},
		{NodeSpec{Name: "n1", Image: Image{Kernel: "latest"}}, `image.kernel "latest"`},
		{NodeSpec{Name: "n1", Image: Image{RuntimeHandlers: []string{"runc", "Kata QEMU"}}}, `image.runtimeHandlers[1]`},
		{NodeSpec{Name: "n1", Image: Image{VNode: VNodeSupport{MinKernel: "six"}}}, `image.vnode.minKernel`},
		{NodeSpec{Name: "n1", Taints: []corev1.Taint{{Key: "x"}}}, `taints[0]`},
		{NodeSpec{Name: "n1", Address: "not-an-ip"}, `address "not-an-ip"`},
	} {
		if err := f.Join(ctx, tc.spec); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Join(%+v) = %v, want error naming %s", tc.spec, err, tc.want)
		}
	}
}

func TestDeletedNodeIsForgotten(t *testing.T) {
	f := startFleet(t, func(c *Config) { c.LeaseRenew = time.Second })
	spec := NodeSpec{Name: uniq("node")}
	if err := f.Join(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	// Someone else (the platform, an operator) deletes the Node and its Lease.
	c := tenant(t)
	ctx := context.Background()
	if err := c.CoreV1().Nodes().Delete(ctx, spec.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(ctx, spec.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "fleet forgets the node", func() (bool, string) {
		return len(f.Nodes()) == 0, fmt.Sprint(f.Nodes())
	})
	time.Sleep(2 * time.Second)
	if _, err := c.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, spec.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("lease of a deleted node came back: %v", err)
	}
}
