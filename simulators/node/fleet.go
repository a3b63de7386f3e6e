// Package node is the simulated kubelet of the embedded platform: a Fleet
// joins simulated confidential nodes to a tenant cluster and runs the pods
// bound to them. Everything it does shows only through the tenant
// Kubernetes API — Node objects and their status, node Leases, pod status,
// Events — written with each node's own system:node:<name> identity, so
// the API server's Node authorizer and NodeRestriction admission apply as
// they do to a real kubelet.
//
// One Fleet serves many nodes: one shared pod informer (admin, reads only),
// one heartbeat loop for every node's Lease, bounded worker pools for pod
// syncs, events, and the slow calls (attestation, probes). Timers are
// delayed work-queue entries, never goroutines per pod.
package node

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	nodev1listers "k8s.io/client-go/listers/node/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/cctest/cctest/simulators/controlplane/pki"
)

const nodeNameIndex = "spec.nodeName"

// Fleet runs the simulated nodes of one tenant cluster.
type Fleet struct {
	cfg   Config
	admin kubernetes.Interface
	ca    *pki.CA // nil with AdminCredentials

	mu      sync.RWMutex
	nodes   map[string]*simNode
	nextIdx int

	factory    informers.SharedInformerFactory // pods bound to any node
	rcFactory  informers.SharedInformerFactory
	pods       cache.SharedIndexInformer
	rcLister   nodev1listers.RuntimeClassLister
	rcInformer cache.SharedIndexInformer

	queue   workqueue.TypedRateLimitingInterface[string]
	statesM sync.Mutex
	states  map[string]*podState // by namespace/name

	events *eventSink
	slow   *jobPool

	runMu   sync.Mutex
	running bool
	runCtx  context.Context
}

// NewFleet checks the config and prepares a fleet; call Run to start it.
func NewFleet(cfg Config) (*Fleet, error) {
	if cfg.Tenant == nil {
		return nil, errors.New("node fleet: Config.Tenant (the tenant admin rest config) is required")
	}
	cfg.defaults()
	f := &Fleet{cfg: cfg, nodes: map[string]*simNode{}, states: map[string]*podState{}}
	if !cfg.AdminCredentials {
		if cfg.TenantPKIDir == "" {
			return nil, errors.New("node fleet: Config.TenantPKIDir is required to issue node certificates (or set AdminCredentials)")
		}
		ca, err := pki.LoadCA(cfg.TenantPKIDir)
		if err != nil {
			return nil, fmt.Errorf("node fleet: load tenant CA from %s: %w", cfg.TenantPKIDir, err)
		}
		f.ca = ca
	}
	admin := rest.CopyConfig(cfg.Tenant)
	if admin.QPS == 0 {
		admin.QPS, admin.Burst = 200, 400
	}
	var err error
	if f.admin, err = kubernetes.NewForConfig(admin); err != nil {
		return nil, fmt.Errorf("node fleet: tenant client: %w", err)
	}

	f.factory = informers.NewSharedInformerFactoryWithOptions(f.admin, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermNotEqualSelector("spec.nodeName", "").String()
		}),
		informers.WithTransform(dropManagedFields))
	f.pods = f.factory.Core().V1().Pods().Informer()
	if err := f.pods.AddIndexers(cache.Indexers{nodeNameIndex: func(obj any) ([]string, error) {
		if p, ok := obj.(*corev1.Pod); ok {
			return []string{p.Spec.NodeName}, nil
		}
		return nil, nil
	}}); err != nil {
		return nil, err
	}
	f.rcFactory = informers.NewSharedInformerFactory(f.admin, 0)
	f.rcInformer = f.rcFactory.Node().V1().RuntimeClasses().Informer()
	f.rcLister = f.rcFactory.Node().V1().RuntimeClasses().Lister()

	f.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](50*time.Millisecond, 10*time.Second),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "cctest-node-pods"})
	f.events = newEventSink(cfg.EventWorkers)
	f.slow = newJobPool(cfg.SlowWorkers)
	return f, nil
}

func dropManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

// Run starts the informers, workers and heartbeats and blocks until ctx is
// done. Nodes stay registered when Run returns but stop renewing their
// Leases, like kubelets that died: the node lifecycle controller then marks
// them NotReady.
func (f *Fleet) Run(ctx context.Context) error {
	f.runMu.Lock()
	if f.running {
		f.runMu.Unlock()
		return errors.New("node fleet: Run called twice")
	}
	f.running, f.runCtx = true, ctx
	f.runMu.Unlock()

	if _, err := f.pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    f.enqueue,
		UpdateFunc: func(_, obj any) { f.enqueue(obj) },
		DeleteFunc: f.enqueue,
	}); err != nil {
		return err
	}
	f.factory.Start(ctx.Done())
	f.rcFactory.Start(ctx.Done())
	for typ, ok := range f.factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("node fleet: %v informer did not sync: %w", typ, ctx.Err())
		}
	}
	f.rcFactory.WaitForCacheSync(ctx.Done())

	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); f.events.run(ctx) }()
	go func() { defer wg.Done(); f.slow.run(ctx) }()
	go func() { defer wg.Done(); f.heartbeats(ctx) }()
	for i := 0; i < f.cfg.PodWorkers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f.processNext(ctx) {
			}
		}()
	}
	<-ctx.Done()
	f.queue.ShutDown()
	f.factory.Shutdown()
	f.rcFactory.Shutdown()
	wg.Wait()
	return nil
}

func (f *Fleet) enqueue(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if f.node(p.Spec.NodeName) == nil {
		return // not one of ours
	}
	key, err := cache.MetaNamespaceKeyFunc(p)
	if err == nil {
		f.queue.Add(key)
	}
}

func (f *Fleet) processNext(ctx context.Context) bool {
	key, quit := f.queue.Get()
	if quit {
		return false
	}
	defer f.queue.Done(key)
	after, err := f.syncPod(ctx, key)
	switch {
	case err != nil && ctx.Err() == nil:
		f.queue.AddRateLimited(key)
	default:
		f.queue.Forget(key)
		if after > 0 {
			f.queue.AddAfter(key, after)
		}
	}
	return true
}

func (f *Fleet) node(name string) *simNode {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.nodes[name]
}

// Nodes lists the joined nodes, sorted by name.
func (f *Fleet) Nodes() []NodeInfo {
	f.mu.RLock()
	out := make([]NodeInfo, 0, len(f.nodes))
	for _, n := range f.nodes {
		info := n.info
		info.Labels = map[string]string{}
		for k, v := range n.info.Labels {
			info.Labels[k] = v
		}
		info.Image.RuntimeHandlers = append([]string(nil), n.info.Image.RuntimeHandlers...)
		out = append(out, info)
	}
	f.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// NodeConfig returns the rest config a node writes with (its own
// system:node:<name> identity, or admin with AdminCredentials).
func (f *Fleet) NodeConfig(name string) (*rest.Config, bool) {
	n := f.node(name)
	if n == nil {
		return nil, false
	}
	c := rest.CopyConfig(n.restConfig)
	c.RateLimiter = nil // the node's own limiter stays the node's
	return c, true
}

// forgetNode stops simulating a node: no more heartbeats, and its pods'
// state is dropped (their containers are gone with the machine).
func (f *Fleet) forgetNode(n *simNode) {
	f.mu.Lock()
	if f.nodes[n.spec.Name] == n {
		delete(f.nodes, n.spec.Name)
	}
	f.mu.Unlock()
	n.stop()
	f.statesM.Lock()
	var keys []string
	for k, st := range f.states {
		if st.node == n {
			keys = append(keys, k)
		}
	}
	f.statesM.Unlock()
	for _, k := range keys {
		f.dropState(k)
	}
	f.events.forget(n.ref().UID)
}

// Join registers a node: its Node object (labels, taints, capacity, node
// info, addresses, Ready=True), its Lease in kube-node-lease, and from then
// on runs the pods bound to it.
func (f *Fleet) Join(ctx context.Context, spec NodeSpec) error {
	if err := spec.validate(); err != nil {
		return err
	}
	f.mu.Lock()
	if _, ok := f.nodes[spec.Name]; ok {
		f.mu.Unlock()
		return fmt.Errorf("node fleet: node %s already joined", spec.Name)
	}
	idx := f.nextIdx
	f.nextIdx++
	f.mu.Unlock()

	n, err := f.newSimNode(spec, idx)
	if err != nil {
		return err
	}
	if err := f.register(ctx, n); err != nil {
		return fmt.Errorf("join node %s: %w", spec.Name, err)
	}
	f.mu.Lock()
	if _, ok := f.nodes[spec.Name]; ok {
		f.mu.Unlock()
		return fmt.Errorf("node fleet: node %s already joined", spec.Name)
	}
	f.nodes[spec.Name] = n
	f.mu.Unlock()

	// Pods may have been bound (spec.nodeName) before the node existed.
	objs, _ := f.pods.GetIndexer().ByIndex(nodeNameIndex, spec.Name)
	for _, o := range objs {
		f.enqueue(o)
	}
	return nil
}

// Remove drains the node the way an operator would (cordon, evict every pod
// that is not a DaemonSet's, wait until the kubelet has confirmed their
// termination), then deletes its Node and Lease.
func (f *Fleet) Remove(ctx context.Context, name string) error {
	n := f.node(name)
	if n == nil {
		return fmt.Errorf("node fleet: node %s is not joined", name)
	}
	if err := f.drain(ctx, n); err != nil {
		return fmt.Errorf("drain node %s: %w", name, err)
	}
	f.forgetNode(n)
	err := f.admin.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete node %s: %w", name, err)
	}
	err = f.admin.CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete lease of node %s: %w", name, err)
	}
	return nil
}

// SandboxHandler is the runtime handler the pod's sandbox runs with on a
// node of this fleet; false before the sandbox exists or for other pods.
// Probe runners and attesters can use it instead of looking the
// RuntimeClass up again.
func (f *Fleet) SandboxHandler(namespace, name string) (string, bool) {
	f.statesM.Lock()
	st := f.states[namespace+"/"+name]
	f.statesM.Unlock()
	if st == nil {
		return "", false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.handler, st.sandboxReady
}
