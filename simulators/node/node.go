package node

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
	kubeletapis "k8s.io/kubelet/pkg/apis"

	"github.com/cctest/cctest/simulators/controlplane/pki"
)

// Condition reasons and messages a kubelet writes into node status.
const (
	reasonKubeletReady = "KubeletReady"
	msgKubeletReady    = "kubelet is posting ready status"
)

// simNode is one joined node.
type simNode struct {
	info       NodeInfo
	spec       NodeSpec
	index      int
	client     *kubeletClient // the node's own identity
	restConfig *rest.Config
	handlers   map[string]bool // installed containerd runtimes
	podNet     [3]byte         // pod IPs are podNet.x
	bootID     string

	mu         sync.Mutex
	uid        types.UID
	ips        [256]bool
	inUse      map[types.UID]podUse // sandboxes that exist, for the vnode/kata conflict fault
	lease      *coordinationv1.Lease
	nextRenew  time.Time
	nextStatus time.Time
	readySince metav1.Time
	gone       bool
}

type podUse struct {
	handler string
	key     string
}

func (f *Fleet) newSimNode(spec NodeSpec, idx int) (*simNode, error) {
	if idx >= 254*256 {
		return nil, fmt.Errorf("node fleet: at most %d nodes", 254*256)
	}
	addr := spec.Address
	if addr == "" {
		addr = fmt.Sprintf("127.1.%d.%d", idx/254, idx%254+1)
	} else if net.ParseIP(addr) == nil {
		return nil, fmt.Errorf("node spec %s: address %q is not an IP address", spec.Name, addr)
	}
	img := spec.Image
	img.RuntimeHandlers = nil
	handlers := map[string]bool{}
	for _, h := range spec.Image.RuntimeHandlers {
		if f.cfg.Faults.Has(FaultKataHandlerMissing) && f.isKataTEE(h) {
			continue
		}
		if f.cfg.Faults.Has(FaultVNodeHandlerMissing) && h == HandlerVNode {
			continue
		}
		if !handlers[h] {
			handlers[h] = true
			img.RuntimeHandlers = append(img.RuntimeHandlers, h)
		}
	}
	labels := map[string]string{}
	for k, v := range spec.Labels {
		labels[k] = v
	}
	rc, client, err := f.nodeClient(spec.Name)
	if err != nil {
		return nil, err
	}
	return &simNode{
		info:       NodeInfo{Name: spec.Name, TEE: spec.TEE, Image: img, Labels: labels, Address: addr},
		spec:       spec,
		index:      idx,
		client:     client,
		restConfig: rc,
		handlers:   handlers,
		podNet:     [3]byte{10, byte(1 + idx/256), byte(idx % 256)},
		bootID:     randomUUID(),
		inUse:      map[types.UID]podUse{},
	}, nil
}

// nodeClient issues the node's client certificate (CN=system:node:<name>,
// O=system:nodes) from the tenant CA, as TLS bootstrap would.
// kubeletClient is the part of the API a kubelet writes to. A full
// clientset per node would cost ~40 KB more for each of 1,000 nodes.
type kubeletClient struct {
	core  corev1client.CoreV1Interface
	coord coordinationv1client.CoordinationV1Interface
}

func (c *kubeletClient) CoreV1() corev1client.CoreV1Interface { return c.core }
func (c *kubeletClient) CoordinationV1() coordinationv1client.CoordinationV1Interface {
	return c.coord
}

func (f *Fleet) nodeClient(name string) (*rest.Config, *kubeletClient, error) {
	var cfg *rest.Config
	if f.cfg.AdminCredentials {
		cfg = rest.CopyConfig(f.cfg.Tenant)
	} else {
		certPEM, key, err := f.ca.Issue(pki.Leaf{CommonName: "system:node:" + name, Organization: []string{"system:nodes"}})
		if err != nil {
			return nil, nil, fmt.Errorf("issue certificate for node %s: %w", name, err)
		}
		keyPEM, err := pki.KeyPEM(key)
		if err != nil {
			return nil, nil, err
		}
		cfg = rest.AnonymousClientConfig(f.cfg.Tenant)
		cfg.CertData, cfg.KeyData = certPEM, keyPEM
	}
	// kubelet defaults: 50 QPS, burst 100.
	cfg.QPS, cfg.Burst = 50, 100
	cfg.UserAgent = fmt.Sprintf("kubelet/%s (linux/amd64) cctest-simulated", f.cfg.KubeletVersion)
	// One transport and one rate limit for both API groups, as in a clientset.
	cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(cfg.QPS, cfg.Burst)
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, nil, err
	}
	core, err := corev1client.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, nil, err
	}
	coord, err := coordinationv1client.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, nil, err
	}
	return cfg, &kubeletClient{core: core, coord: coord}, nil
}

func (n *simNode) stop() {
	n.mu.Lock()
	n.gone = true
	n.mu.Unlock()
}

func (n *simNode) isGone() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.gone
}

// nodeLabels splits the node's labels into those a kubelet may set on
// itself under NodeRestriction and those an operator has to set.
func (n *simNode) nodeLabels() (self, operator map[string]string) {
	self = map[string]string{
		corev1.LabelHostname:   n.spec.Name,
		corev1.LabelOSStable:   "linux",
		corev1.LabelArchStable: "amd64",
		kubeletapis.LabelOS:    "linux",
		kubeletapis.LabelArch:  "amd64",
	}
	operator = map[string]string{}
	for k, v := range n.spec.Labels {
		if kubeletMaySet(k) {
			self[k] = v
		} else {
			operator[k] = v
		}
	}
	return self, operator
}

// kubeletMaySet mirrors NodeRestriction: kubernetes.io / k8s.io labels only
// from the kubelet's allowed set, never node-restriction.kubernetes.io.
func kubeletMaySet(key string) bool {
	ns := ""
	if i := strings.Index(key, "/"); i >= 0 {
		ns = key[:i]
	}
	under := func(domain string) bool { return ns == domain || strings.HasSuffix(ns, "."+domain) }
	if under(corev1.LabelNamespaceNodeRestriction) {
		return false
	}
	if under("kubernetes.io") || under("k8s.io") {
		return kubeletapis.IsKubeletLabel(key)
	}
	return true
}

func (f *Fleet) nodeObject(n *simNode, now metav1.Time) *corev1.Node {
	self, _ := n.nodeLabels()
	pods := resource.NewQuantity(int64(n.spec.Pods), resource.DecimalSI)
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              n.spec.CPU,
		corev1.ResourceMemory:           n.spec.Memory,
		corev1.ResourcePods:             *pods,
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
		"hugepages-1Gi":                 resource.MustParse("0"),
		"hugepages-2Mi":                 resource.MustParse("0"),
	}
	for k, v := range n.spec.Extended {
		capacity[k] = v
	}
	annotations := map[string]string{"volumes.kubernetes.io/controller-managed-attach-detach": "true"}
	for k, v := range n.spec.SelfAnnotations {
		annotations[k] = v
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        n.spec.Name,
			Labels:      self,
			Annotations: annotations,
		},
		Spec: corev1.NodeSpec{Taints: append([]corev1.Taint(nil), n.spec.Taints...)},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: capacity.DeepCopy(),
			Conditions:  nodeConditions(now, now),
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: n.info.Address},
				{Type: corev1.NodeHostName, Address: n.spec.Name},
			},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}},
			NodeInfo: corev1.NodeSystemInfo{
				MachineID:               digestHex(n.spec.Name)[:32],
				SystemUUID:              uuidFrom(digestHex("system-uuid/" + n.spec.Name)),
				BootID:                  n.bootID,
				KernelVersion:           n.spec.Image.Kernel,
				OSImage:                 n.spec.Image.Name,
				ContainerRuntimeVersion: n.spec.Image.ContainerRuntime,
				KubeletVersion:          f.cfg.KubeletVersion,
				OperatingSystem:         "linux",
				Architecture:            "amd64",
			},
			RuntimeHandlers: n.runtimeHandlers(),
			Features:        &corev1.NodeFeatures{SupplementalGroupsPolicy: ptrTo(true)},
		},
	}
}

// runtimeHandlers is what the kubelet reports from the CRI: the default
// handler (empty name) and every configured runtime.
func (n *simNode) runtimeHandlers() []corev1.NodeRuntimeHandler {
	out := []corev1.NodeRuntimeHandler{{Name: "", Features: &corev1.NodeRuntimeHandlerFeatures{
		RecursiveReadOnlyMounts: ptrTo(true), UserNamespaces: ptrTo(true)}}}
	for _, h := range n.info.Image.RuntimeHandlers {
		userns := h == HandlerRunc || (h == HandlerVNode && n.spec.Image.VNode.NestedUserNamespaces)
		out = append(out, corev1.NodeRuntimeHandler{Name: h, Features: &corev1.NodeRuntimeHandlerFeatures{
			RecursiveReadOnlyMounts: ptrTo(h == HandlerRunc), UserNamespaces: ptrTo(userns)}})
	}
	return out
}

func nodeConditions(heartbeat, readySince metav1.Time) []corev1.NodeCondition {
	c := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg,
			LastHeartbeatTime: heartbeat, LastTransitionTime: readySince}
	}
	return []corev1.NodeCondition{
		c(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
		c(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
		c(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
		c(corev1.NodeReady, corev1.ConditionTrue, reasonKubeletReady, msgKubeletReady),
	}
}

// register creates (or re-registers) the Node with the node's identity,
// lets the operator add labels a kubelet may not set, and creates the Lease.
func (f *Fleet) register(ctx context.Context, n *simNode) error {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	obj := f.nodeObject(n, now)
	self, operator := n.nodeLabels()
	created, err := n.client.CoreV1().Nodes().Create(ctx, obj, metav1.CreateOptions{})
	switch {
	case err == nil:
		n.uid = created.UID
	case apierrors.IsAlreadyExists(err):
		for k, v := range self {
			operator[k] = v
		}
		// A kubelet restarting on a registered node: take over its status.
		existing, gerr := n.client.CoreV1().Nodes().Get(ctx, n.spec.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		n.uid = existing.UID
		if err := f.patchNodeStatus(ctx, n, obj.Status); err != nil {
			return err
		}
	default:
		return fmt.Errorf("create Node as system:node:%s: %w", n.spec.Name, err)
	}
	n.readySince = now
	if len(operator) > 0 {
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": operator}})
		if _, err := f.admin.CoreV1().Nodes().Patch(ctx, n.spec.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("label node (operator labels %v): %w", keys(operator), err)
		}
	}
	if err := f.createLease(ctx, n); err != nil {
		return err
	}
	jitter := time.Duration(n.index%10) * f.cfg.LeaseRenew / 10
	n.mu.Lock()
	n.nextRenew = time.Now().Add(f.cfg.LeaseRenew - jitter)
	n.nextStatus = time.Now().Add(f.cfg.StatusReport)
	n.mu.Unlock()
	ref := n.ref()
	f.events.record(n.client, n.spec.Name, ref, corev1.EventTypeNormal, "Starting", "Starting kubelet.")
	f.events.record(n.client, n.spec.Name, ref, corev1.EventTypeNormal, "NodeReady", fmt.Sprintf("Node %s status is now: NodeReady", n.spec.Name))
	return nil
}

// ref is how a kubelet refers to its node in events (UID = node name).
func (n *simNode) ref() corev1.ObjectReference {
	return corev1.ObjectReference{Kind: "Node", Name: n.spec.Name, UID: types.UID(n.spec.Name)}
}

// drain cordons the node and evicts its pods (not DaemonSet pods), then
// waits until they are gone: the simulated kubelet deletes them once their
// containers have stopped.
func (f *Fleet) drain(ctx context.Context, n *simNode) error {
	patch := []byte(`{"spec":{"unschedulable":true}}`)
	if _, err := f.admin.CoreV1().Nodes().Patch(ctx, n.spec.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("cordon: %w", err)
	}
	sel := fields.OneTermEqualSelector("spec.nodeName", n.spec.Name).String()
	for {
		list, err := f.admin.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			return err
		}
		left := 0
		for i := range list.Items {
			p := &list.Items[i]
			if ownedByDaemonSet(p) {
				continue
			}
			left++
			if p.DeletionTimestamp != nil {
				continue
			}
			ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace}}
			err := f.admin.CoreV1().Pods(p.Namespace).EvictV1(ctx, ev)
			if apierrors.IsForbidden(err) {
				// e.g. its namespace is terminating: evictions are refused there.
				err = f.admin.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
			}
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsTooManyRequests(err) {
				return fmt.Errorf("evict pod %s/%s: %w", p.Namespace, p.Name, err)
			}
		}
		if left == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d pods still on the node: %w", left, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func ownedByDaemonSet(p *corev1.Pod) bool {
	for _, o := range p.OwnerReferences {
		if o.Kind == "DaemonSet" && o.Controller != nil && *o.Controller {
			return true
		}
	}
	return false
}

// allocIP hands out a pod IP from the node's 10.a.b.0/24.
func (n *simNode) allocIP() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := 2; i < 255; i++ {
		if !n.ips[i] {
			n.ips[i] = true
			return fmt.Sprintf("%d.%d.%d.%d", n.podNet[0], n.podNet[1], n.podNet[2], i)
		}
	}
	// Full: reuse, as an exhausted IPAM range would be misconfigured anyway.
	return fmt.Sprintf("%d.%d.%d.%d", n.podNet[0], n.podNet[1], n.podNet[2], 254)
}

// reserveIP marks an address handed out before (an adopted pod's).
func (n *simNode) reserveIP(ip string) {
	parsed := net.ParseIP(ip).To4()
	if parsed == nil || parsed[0] != n.podNet[0] || parsed[1] != n.podNet[1] || parsed[2] != n.podNet[2] {
		return
	}
	n.mu.Lock()
	n.ips[parsed[3]] = true
	n.mu.Unlock()
}

func (n *simNode) freeIP(ip string) {
	parsed := net.ParseIP(ip).To4()
	if parsed == nil || parsed[0] != n.podNet[0] || parsed[1] != n.podNet[1] || parsed[2] != n.podNet[2] {
		return
	}
	n.mu.Lock()
	n.ips[parsed[3]] = false
	n.mu.Unlock()
}

func digestHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func uuidFrom(h string) string {
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func randomUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return uuidFrom(hex.EncodeToString(b))
}

func randomHex(n int) string {
	b := make([]byte, n/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func ptrTo[T any](v T) *T { return &v }

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
