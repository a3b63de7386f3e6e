// Package vcluster models the parts of vCluster (v0.36.1) the harness needs,
// observable only through the host and tenant Kubernetes APIs: the
// sync.fromHost.runtimeClasses syncer and experimental.deploy.vcluster.manifests.
package vcluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	nodelisters "k8s.io/client-go/listers/node/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/cctest/cctest/faults"
)

// Labels and annotations vCluster reserves (pkg/util/translate).
const (
	// ControlledByLabel on an object makes the syncer leave it alone (any
	// non-empty value). Tenant RuntimeClasses that should survive sync
	// without a host twin carry it.
	ControlledByLabel = "vcluster.loft.sh/controlled-by"

	markerLabel          = "vcluster.loft.sh/managed-by"
	namespaceLabel       = "vcluster.loft.sh/namespace"
	namespaceLabelPrefix = "vcluster.loft.sh/ns-label"

	// syncerName is the value of a controlled-by annotation that still
	// lets this syncer handle the object.
	syncerName = "runtimeclass"
)

// Host-side bookkeeping annotations vCluster never copies into the tenant.
var internalAnnotations = map[string]bool{
	"vcluster.loft.sh/object-name":           true,
	"vcluster.loft.sh/object-namespace":      true,
	"vcluster.loft.sh/object-host-name":      true,
	"vcluster.loft.sh/object-host-namespace": true,
	"vcluster.loft.sh/object-uid":            true,
	"vcluster.loft.sh/object-kind":           true,
	"vcluster.loft.sh/managed-annotations":   true,
	"vcluster.loft.sh/managed-labels":        true,
}

// resyncPeriod is the safety net behind the watches.
const resyncPeriod = 30 * time.Second

// workers is vCluster's MaxConcurrentReconciles for every syncer
// (pkg/syncer/syncer.go).
const workers = 10

// Config is sync.fromHost.runtimeClasses plus the settings that decide
// whether the syncer runs at all.
type Config struct {
	Enabled bool
	// Selector picks host classes by label; nil or empty selects all.
	Selector *metav1.LabelSelector
	// PrivateNodes: real vCluster starts no syncers with private nodes,
	// so the syncer does nothing.
	PrivateNodes bool
	Faults       faults.Set
	// Logf receives what the syncer does; nil logs through klog.
	Logf func(format string, args ...any)
}

// RuntimeClassSyncer mirrors host RuntimeClasses into the tenant.
//
// Like vCluster's mirror-mapped syncer it does not mark its copies: a tenant
// RuntimeClass without a matching host class of the same name is deleted
// whoever created it, unless it is labelled ControlledByLabel. A tenant class
// whose host twin matches is overwritten with the host's labels, annotations,
// handler, overhead and scheduling (a different handler is immutable, so that
// update fails and is retried, as in vCluster).
type RuntimeClassSyncer struct {
	host, tenant kubernetes.Interface
	cfg          Config
	selector     labels.Selector
	logf         func(format string, args ...any)

	hostLister, tenantLister nodelisters.RuntimeClassLister
	queue                    workqueue.TypedRateLimitingInterface[string]

	mu      sync.Mutex
	started bool
	// copies are names this syncer created or kept in step with a host
	// class; only the sync-keeps-unmatched fault reads it.
	copies map[string]bool
}

// NewRuntimeClassSyncer checks the selector and returns a syncer; Run starts it.
func NewRuntimeClassSyncer(host, tenant kubernetes.Interface, cfg Config) (*RuntimeClassSyncer, error) {
	if host == nil || tenant == nil {
		return nil, errors.New("runtime class syncer: host and tenant clients are required")
	}
	sel := labels.Everything()
	if cfg.Selector != nil {
		var err error
		sel, err = metav1.LabelSelectorAsSelector(cfg.Selector)
		if err != nil {
			return nil, fmt.Errorf("sync.fromHost.runtimeClasses.selector: %w", err)
		}
	}
	logf := cfg.Logf
	if logf == nil {
		logf = func(format string, args ...any) { klog.InfofDepth(1, "runtimeclass syncer: "+format, args...) }
	}
	return &RuntimeClassSyncer{host: host, tenant: tenant, cfg: cfg, selector: sel, logf: logf, copies: map[string]bool{}}, nil
}

// Run watches RuntimeClasses on both sides and reconciles every change until
// ctx is done. Disabled or with private nodes it does nothing but wait.
func (s *RuntimeClassSyncer) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("runtime class syncer: Run called twice")
	}
	s.started = true
	s.mu.Unlock()

	switch {
	case s.cfg.PrivateNodes:
		s.logf("private nodes: resource syncers are not started, sync.fromHost.runtimeClasses has no effect")
		<-ctx.Done()
		return nil
	case !s.cfg.Enabled:
		s.logf("sync.fromHost.runtimeClasses is disabled")
		<-ctx.Done()
		return nil
	}

	s.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "runtimeclass"})
	hostFactory := informers.NewSharedInformerFactory(s.host, resyncPeriod)
	tenantFactory := informers.NewSharedInformerFactory(s.tenant, resyncPeriod)
	hostInf := hostFactory.Node().V1().RuntimeClasses()
	tenantInf := tenantFactory.Node().V1().RuntimeClasses()
	s.hostLister, s.tenantLister = hostInf.Lister(), tenantInf.Lister()
	for _, inf := range []cache.SharedIndexInformer{hostInf.Informer(), tenantInf.Informer()} {
		if _, err := inf.AddEventHandler(s.enqueueHandler()); err != nil {
			return fmt.Errorf("runtime class syncer: %w", err)
		}
	}
	hostFactory.Start(ctx.Done())
	tenantFactory.Start(ctx.Done())
	defer func() {
		s.queue.ShutDown()
		hostFactory.Shutdown()
		tenantFactory.Shutdown()
	}()
	if !cache.WaitForCacheSync(ctx.Done(), hostInf.Informer().HasSynced, tenantInf.Informer().HasSynced) {
		return nil // ctx done before the caches filled
	}
	s.logf("started (selector %q, faults %v)", s.selector.String(), s.cfg.Faults.Names())

	// Workers like vCluster's controller: events for different classes are
	// handled concurrently and in no particular order; the workqueue never
	// hands one name to two workers, so each class is reconciled serially.
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s.processNext(ctx) {
			}
		}()
	}
	<-ctx.Done()
	s.queue.ShutDown()
	wg.Wait()
	return nil
}

func (s *RuntimeClassSyncer) enqueueHandler() cache.ResourceEventHandler {
	add := func(obj any) {
		key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
		if err == nil {
			s.queue.Add(key)
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    add,
		UpdateFunc: func(_, obj any) { add(obj) },
		DeleteFunc: add,
	}
}

func (s *RuntimeClassSyncer) processNext(ctx context.Context) bool {
	name, shutdown := s.queue.Get()
	if shutdown {
		return false
	}
	defer s.queue.Done(name)
	if err := s.reconcile(ctx, name); err != nil && ctx.Err() == nil {
		s.logf("error syncing runtime class %s (will retry): %v", name, err)
		s.queue.AddRateLimited(name)
		return true
	}
	s.queue.Forget(name)
	return true
}

// reconcile follows vCluster's generic syncer: exclude controlled-by
// objects, then create (host only), update or delete (both), delete
// (tenant only).
func (s *RuntimeClassSyncer) reconcile(ctx context.Context, name string) error {
	host, err := getCached(s.hostLister, name)
	if err != nil {
		return err
	}
	tenant, err := getCached(s.tenantLister, name)
	if err != nil {
		return err
	}
	if tenant != nil && host == nil {
		// Never delete on a lagging cache: ask the host API server.
		host, err = s.host.NodeV1().RuntimeClasses().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			host, err = nil, nil
		}
		if err != nil {
			return fmt.Errorf("get host runtime class: %w", err)
		}
	}
	if (tenant != nil && s.excludedTenant(tenant)) || (host != nil && excluded(host)) {
		return nil
	}

	switch {
	case host != nil && tenant != nil:
		if !s.matches(host) {
			return s.deleteTenant(ctx, tenant, fmt.Sprintf("host runtime class %q does not match the selector under 'sync.fromHost.runtimeClasses.selector'", name))
		}
		return s.update(ctx, host, tenant)
	case tenant != nil:
		return s.deleteTenant(ctx, tenant, "host runtime class is missing")
	case host != nil:
		if !s.matches(host) {
			return nil
		}
		return s.create(ctx, host)
	}
	s.forget(name)
	return nil
}

func getCached(l nodelisters.RuntimeClassLister, name string) (*nodev1.RuntimeClass, error) {
	rc, err := l.Get(name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return rc, err
}

func (s *RuntimeClassSyncer) matches(host *nodev1.RuntimeClass) bool {
	if s.cfg.Faults.Has(FaultSyncIgnoresSelector) {
		return true
	}
	return s.selector.Matches(labels.Set(host.Labels))
}

// excluded is vCluster's rule for objects another controller owns.
func excluded(rc *nodev1.RuntimeClass) bool {
	if rc.Labels[ControlledByLabel] != "" {
		return true
	}
	a := rc.Annotations[ControlledByLabel]
	return a != "" && a != syncerName
}

func (s *RuntimeClassSyncer) excludedTenant(rc *nodev1.RuntimeClass) bool {
	if s.cfg.Faults.Has(FaultSyncDeletesControlledBy) {
		return false
	}
	return excluded(rc)
}

func (s *RuntimeClassSyncer) create(ctx context.Context, host *nodev1.RuntimeClass) error {
	rc := &nodev1.RuntimeClass{
		ObjectMeta: metav1.ObjectMeta{
			Name:        host.Name,
			Labels:      tenantLabels(host.Labels, nil),
			Annotations: tenantAnnotations(host.Annotations, nil),
		},
		Handler:    host.Handler,
		Overhead:   host.Overhead.DeepCopy(),
		Scheduling: s.scheduling(host),
	}
	s.logf("create runtime class %s, because it does not exist in virtual cluster", rc.Name)
	if _, err := s.tenant.NodeV1().RuntimeClasses().Create(ctx, rc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create tenant runtime class: %w", err)
	}
	s.remember(rc.Name)
	return nil
}

// scheduling is what the tenant copy gets of the host class's scheduling.
func (s *RuntimeClassSyncer) scheduling(host *nodev1.RuntimeClass) *nodev1.Scheduling {
	if s.cfg.Faults.Has(FaultSyncDropsScheduling) {
		return nil
	}
	return host.Scheduling.DeepCopy()
}

func (s *RuntimeClassSyncer) update(ctx context.Context, host, tenant *nodev1.RuntimeClass) error {
	want := tenant.DeepCopy()
	want.Labels = tenantLabels(host.Labels, tenant.Labels)
	want.Annotations = tenantAnnotations(host.Annotations, tenant.Annotations)
	want.Handler = host.Handler
	want.Overhead = host.Overhead.DeepCopy()
	want.Scheduling = s.scheduling(host)
	if equality.Semantic.DeepEqual(want, tenant) || s.cfg.Faults.Has(FaultSyncSkipsHostUpdates) {
		s.remember(tenant.Name)
		return nil
	}
	if want.Handler != tenant.Handler && s.cfg.Faults.Has(FaultSyncReplacesHandler) {
		s.logf("fault %s: replacing virtual runtime class %s (handler %q) with the host's (handler %q)", FaultSyncReplacesHandler, tenant.Name, tenant.Handler, host.Handler)
		if err := s.deleteTenant(ctx, tenant, "its handler differs from the host's"); err != nil {
			return err
		}
		return s.create(ctx, host)
	}
	s.logf("update runtime class %s from the host", tenant.Name)
	if _, err := s.tenant.NodeV1().RuntimeClasses().Update(ctx, want, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update tenant runtime class: %w", err)
	}
	s.remember(tenant.Name)
	return nil
}

func (s *RuntimeClassSyncer) deleteTenant(ctx context.Context, tenant *nodev1.RuntimeClass, reason string) error {
	if s.cfg.Faults.Has(FaultSyncKeepsUnmatched) && s.isCopy(tenant.Name) {
		s.logf("fault %s: keeping virtual runtime class %s although %s", FaultSyncKeepsUnmatched, tenant.Name, reason)
		return nil
	}
	s.logf("delete virtual runtime class %s, because %s", tenant.Name, reason)
	uid := tenant.UID
	err := s.tenant.NodeV1().RuntimeClasses().Delete(ctx, tenant.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &uid}, // not a newer object of that name
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete tenant runtime class: %w", err)
	}
	s.forget(tenant.Name)
	return nil
}

func (s *RuntimeClassSyncer) remember(name string) {
	s.mu.Lock()
	s.copies[name] = true
	s.mu.Unlock()
}

func (s *RuntimeClassSyncer) forget(name string) {
	s.mu.Lock()
	delete(s.copies, name)
	s.mu.Unlock()
}

func (s *RuntimeClassSyncer) isCopy(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.copies[name]
}

// tenantLabels is the host's labels without vCluster's internal ones; the
// tenant keeps its own values for those.
func tenantLabels(host, tenant map[string]string) map[string]string {
	return mergeExcluding(host, tenant, func(k string) bool {
		return k == markerLabel || k == namespaceLabel || k == ControlledByLabel || strings.HasPrefix(k, namespaceLabelPrefix)
	})
}

// tenantAnnotations is the host's annotations without vCluster's object-*
// bookkeeping; the tenant keeps its own values for those.
func tenantAnnotations(host, tenant map[string]string) map[string]string {
	return mergeExcluding(host, tenant, func(k string) bool { return internalAnnotations[k] })
}

func mergeExcluding(from, to map[string]string, internal func(string) bool) map[string]string {
	out := map[string]string{}
	for k, v := range from {
		if !internal(k) {
			out[k] = v
		}
	}
	for k, v := range to {
		if internal(k) {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
