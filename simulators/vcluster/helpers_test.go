package vcluster

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/cctest/cctest/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// Generous: these run on small shared machines.
const (
	pollEvery = 100 * time.Millisecond
	waitLong  = 90 * time.Second
	// settle is how long a test waits before asserting that a syncer which
	// cannot be observed (disabled, private nodes) did nothing. It can only
	// make such a test pass wrongly, never fail wrongly.
	settle = 3 * time.Second
	// hold is how long wantTenant / wantNoTenant watch after a barrier.
	hold = time.Second
)

// confidential is the label the reference selector uses.
const confidential = "cctest.dev/confidential"

var seq atomic.Int32

// fixture is one test's view of the shared platform: unique names, its own
// syncers, and cleanup of everything it made. Tests in this package must not
// run in parallel: every syncer acts on all RuntimeClasses.
type fixture struct {
	t            *testing.T
	ctx          context.Context
	host, tenant kubernetes.Interface
	prefix       string
	names        []string
	namespaces   []string
	stops        []func()
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	host, tenant := testenv.Clients(t)
	f := &fixture{t: t, ctx: context.Background(), host: host, tenant: tenant, prefix: fmt.Sprintf("t%03d", seq.Add(1))}
	t.Cleanup(f.cleanup)
	return f
}

func (f *fixture) cleanup() {
	for i := len(f.stops) - 1; i >= 0; i-- {
		f.stops[i]()
	}
	for _, n := range f.names {
		for _, c := range []kubernetes.Interface{f.host, f.tenant} {
			if err := c.NodeV1().RuntimeClasses().Delete(f.ctx, n, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				f.t.Errorf("cleanup runtime class %s: %v", n, err)
			}
		}
	}
	for _, ns := range f.namespaces {
		_ = f.tenant.CoreV1().Namespaces().Delete(f.ctx, ns, metav1.DeleteOptions{})
	}
}

// name returns a RuntimeClass name unique to this test, cleaned up on both sides.
func (f *fixture) name(base string) string {
	n := f.prefix + "-" + base
	f.names = append(f.names, n)
	return n
}

// start runs a syncer until the test ends.
func (f *fixture) start(cfg Config) {
	f.t.Helper()
	cfg.Logf = func(format string, args ...any) { f.t.Logf("syncer: "+format, args...) }
	s, err := NewRuntimeClassSyncer(f.host, f.tenant, cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var stopped bool
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			f.t.Errorf("syncer Run: %v", err)
		}
	}
	f.stops = append(f.stops, stop)
}

// stopSyncers stops every syncer started so far.
func (f *fixture) stopSyncers() {
	for i := len(f.stops) - 1; i >= 0; i-- {
		f.stops[i]()
	}
}

func rc(name, handler string, labels map[string]string) *nodev1.RuntimeClass {
	return &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Handler: handler}
}

func (f *fixture) createHost(c *nodev1.RuntimeClass) *nodev1.RuntimeClass {
	f.t.Helper()
	out, err := f.host.NodeV1().RuntimeClasses().Create(f.ctx, c, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatalf("create host runtime class %s: %v", c.Name, err)
	}
	return out
}

func (f *fixture) createTenant(c *nodev1.RuntimeClass) *nodev1.RuntimeClass {
	f.t.Helper()
	out, err := f.tenant.NodeV1().RuntimeClasses().Create(f.ctx, c, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatalf("create tenant runtime class %s: %v", c.Name, err)
	}
	return out
}

// updateHost applies change to the host class, retrying on conflicts.
func (f *fixture) updateHost(name string, change func(*nodev1.RuntimeClass)) {
	f.t.Helper()
	err := wait.PollUntilContextTimeout(f.ctx, pollEvery, waitLong, true, func(ctx context.Context) (bool, error) {
		c, err := f.host.NodeV1().RuntimeClasses().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		change(c)
		_, err = f.host.NodeV1().RuntimeClasses().Update(ctx, c, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		f.t.Fatalf("update host runtime class %s: %v", name, err)
	}
}

func (f *fixture) deleteHost(name string) {
	f.t.Helper()
	if err := f.host.NodeV1().RuntimeClasses().Delete(f.ctx, name, metav1.DeleteOptions{}); err != nil {
		f.t.Fatalf("delete host runtime class %s: %v", name, err)
	}
}

func (f *fixture) getTenant(name string) (*nodev1.RuntimeClass, bool) {
	f.t.Helper()
	c, err := f.tenant.NodeV1().RuntimeClasses().Get(f.ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		f.t.Fatalf("get tenant runtime class %s: %v", name, err)
	}
	return c, true
}

// waitTenant waits until the tenant class exists and satisfies ok (nil: any).
func (f *fixture) waitTenant(name string, ok func(*nodev1.RuntimeClass) bool) *nodev1.RuntimeClass {
	f.t.Helper()
	var last *nodev1.RuntimeClass
	err := wait.PollUntilContextTimeout(f.ctx, pollEvery, waitLong, true, func(ctx context.Context) (bool, error) {
		c, err := f.tenant.NodeV1().RuntimeClasses().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		last = c
		return ok == nil || ok(c), nil
	})
	if err != nil {
		f.t.Fatalf("tenant runtime class %s did not appear as expected: %v (last seen: %+v)", name, err, last)
	}
	return last
}

func (f *fixture) waitTenantGone(name string) {
	f.t.Helper()
	err := wait.PollUntilContextTimeout(f.ctx, pollEvery, waitLong, true, func(ctx context.Context) (bool, error) {
		_, err := f.tenant.NodeV1().RuntimeClasses().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		f.t.Fatalf("tenant runtime class %s was not deleted: %v", name, err)
	}
}

// wantTenant checks the tenant class exists throughout hold.
func (f *fixture) wantTenant(name string) *nodev1.RuntimeClass {
	f.t.Helper()
	var c *nodev1.RuntimeClass
	f.holds(func() bool { got, ok := f.getTenant(name); c = got; return ok }, "tenant runtime class %s is missing, want it kept", name)
	return c
}

// wantNoTenant checks the tenant class is absent throughout hold.
func (f *fixture) wantNoTenant(name string) {
	f.t.Helper()
	f.holds(func() bool { _, ok := f.getTenant(name); return !ok }, "tenant runtime class %s exists, want none", name)
}

// holds fails the test as soon as ok is false within hold. After a barrier
// the syncer has seen and dequeued every earlier event, but with concurrent
// workers an earlier reconcile may still be in flight: hold covers it.
func (f *fixture) holds(ok func() bool, format string, args ...any) {
	f.t.Helper()
	err := wait.PollUntilContextTimeout(f.ctx, pollEvery, hold, true, func(context.Context) (bool, error) {
		if !ok() {
			return false, fmt.Errorf(format, args...)
		}
		return false, nil
	})
	if !wait.Interrupted(err) {
		f.t.Fatal(err)
	}
}

// hostBarrier creates a host class matching the running syncer's selector
// and waits for its copy: the syncer's host informer has delivered every
// earlier host event (one watch, in order) and the workqueue, FIFO across
// names, has handed each to a worker. It does not show those reconciles
// finished: follow it with wantTenant / wantNoTenant, which hold a while.
func (f *fixture) hostBarrier(labels map[string]string) {
	f.t.Helper()
	n := f.name(fmt.Sprintf("barrier-h%d", len(f.names)))
	f.createHost(rc(n, "runc", labels))
	f.waitTenant(n, nil)
}

// tenantBarrier creates a tenant-only class and waits for the syncer to
// delete it: every earlier tenant change has been seen and dequeued (as
// for hostBarrier, not necessarily finished).
func (f *fixture) tenantBarrier() {
	f.t.Helper()
	n := f.name(fmt.Sprintf("barrier-t%d", len(f.names)))
	f.createTenant(rc(n, "runc", nil))
	f.waitTenantGone(n)
}

// namespace creates a tenant namespace and waits for its default
// ServiceAccount (pods are rejected without it).
func (f *fixture) namespace() string {
	f.t.Helper()
	ns := f.prefix + "-ns"
	if _, err := f.tenant.CoreV1().Namespaces().Create(f.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		f.t.Fatalf("create namespace: %v", err)
	}
	f.namespaces = append(f.namespaces, ns)
	err := wait.PollUntilContextTimeout(f.ctx, pollEvery, waitLong, true, func(ctx context.Context) (bool, error) {
		_, err := f.tenant.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		f.t.Fatalf("default ServiceAccount in %s did not appear: %v", ns, err)
	}
	return ns
}

func pod(name, runtimeClass string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			RuntimeClassName: &runtimeClass,
			Containers:       []corev1.Container{{Name: "c", Image: "registry.invalid/pause:1"}},
		},
	}
}
