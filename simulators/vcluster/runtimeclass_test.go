package vcluster

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/internal/testenv"
)

var confidentialSelector = &metav1.LabelSelector{MatchLabels: map[string]string{confidential: "true"}}

var confidentialLabels = map[string]string{confidential: "true"}

func syncConfidential(fs ...string) Config {
	set := faults.Set{}
	for _, f := range fs {
		set[f] = true
	}
	return Config{Enabled: true, Selector: confidentialSelector, Faults: set}
}

func kataTDX(name string) *nodev1.RuntimeClass {
	c := rc(name, "kata-qemu-tdx", map[string]string{
		confidential:                  "true",
		"cctest.dev/tee":              "tdx",
		"vcluster.loft.sh/managed-by": "some-vcluster",
	})
	c.Annotations = map[string]string{
		"cctest.dev/owner":                  "platform-team",
		"vcluster.loft.sh/object-host-name": "elsewhere",
	}
	c.Overhead = &nodev1.Overhead{PodFixed: corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("250m"),
		corev1.ResourceMemory: resource.MustParse("160Mi"),
	}}
	c.Scheduling = &nodev1.Scheduling{
		NodeSelector: map[string]string{"cctest.dev/tee": "tdx"},
		Tolerations:  []corev1.Toleration{{Key: "cctest.dev/tee", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
	}
	return c
}

func TestMatchingHostClassIsCopiedWithHandlerOverheadScheduling(t *testing.T) {
	f := newFixture(t)
	f.start(syncConfidential())
	name := f.name("kata-qemu-tdx")
	host := f.createHost(kataTDX(name))

	got := f.waitTenant(name, nil)
	if got.Handler != host.Handler {
		t.Errorf("handler = %q, want %q", got.Handler, host.Handler)
	}
	if !equality.Semantic.DeepEqual(got.Overhead, host.Overhead) {
		t.Errorf("overhead = %+v, want %+v", got.Overhead, host.Overhead)
	}
	if !equality.Semantic.DeepEqual(got.Scheduling, host.Scheduling) {
		t.Errorf("scheduling = %+v, want %+v", got.Scheduling, host.Scheduling)
	}
	wantLabels := map[string]string{confidential: "true", "cctest.dev/tee": "tdx"}
	if !equality.Semantic.DeepEqual(got.Labels, wantLabels) {
		t.Errorf("labels = %v, want %v (vcluster.loft.sh/managed-by stripped)", got.Labels, wantLabels)
	}
	wantAnn := map[string]string{"cctest.dev/owner": "platform-team"}
	if !equality.Semantic.DeepEqual(got.Annotations, wantAnn) {
		t.Errorf("annotations = %v, want %v (vcluster.loft.sh/object-* stripped)", got.Annotations, wantAnn)
	}

	// The tenant API server's RuntimeClass admission uses the copy.
	ns := f.namespace()
	p, err := f.tenant.CoreV1().Pods(ns).Create(f.ctx, pod("uses-copy", name), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("pod naming the synced class rejected: %v", err)
	}
	if !equality.Semantic.DeepEqual(p.Spec.Overhead, host.Overhead.PodFixed) {
		t.Errorf("pod overhead = %v, want the class's %v", p.Spec.Overhead, host.Overhead.PodFixed)
	}
	if p.Spec.NodeSelector["cctest.dev/tee"] != "tdx" {
		t.Errorf("pod nodeSelector = %v, want the class's scheduling merged in", p.Spec.NodeSelector)
	}
}

func TestUnmatchedHostClassIsNotCopied(t *testing.T) {
	f := newFixture(t)
	f.start(syncConfidential())
	unlabelled := f.name("runc-plain")
	f.createHost(rc(unlabelled, "runc", nil))
	other := f.name("gvisor")
	f.createHost(rc(other, "runsc", map[string]string{confidential: "false"}))

	f.hostBarrier(confidentialLabels)
	f.wantNoTenant(unlabelled)
	f.wantNoTenant(other)
}

func TestHostChangesReachTheCopy(t *testing.T) {
	f := newFixture(t)
	f.start(syncConfidential())
	name := f.name("kata-qemu-snp")
	f.createHost(rc(name, "kata-qemu-snp", map[string]string{confidential: "true", "tier": "a"}))
	f.waitTenant(name, nil)

	f.updateHost(name, func(c *nodev1.RuntimeClass) {
		c.Labels = map[string]string{confidential: "true", "tier": "b"}
		c.Annotations = map[string]string{"note": "changed"}
		c.Scheduling = &nodev1.Scheduling{NodeSelector: map[string]string{"cctest.dev/tee": "snp"}}
		c.Overhead = &nodev1.Overhead{PodFixed: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("200Mi")}}
	})
	f.waitTenant(name, func(c *nodev1.RuntimeClass) bool {
		return c.Labels["tier"] == "b" && c.Annotations["note"] == "changed" &&
			c.Scheduling != nil && c.Scheduling.NodeSelector["cctest.dev/tee"] == "snp" &&
			c.Overhead != nil && c.Overhead.PodFixed.Memory().Cmp(resource.MustParse("200Mi")) == 0
	})

	// A tenant edit to a copy is overwritten from the host.
	c := f.wantTenant(name)
	c.Labels["tenant-edit"] = "x"
	if _, err := f.tenant.NodeV1().RuntimeClasses().Update(f.ctx, c, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
		t.Fatal(err)
	}
	f.waitTenant(name, func(c *nodev1.RuntimeClass) bool { _, edited := c.Labels["tenant-edit"]; return !edited })
}

func TestSelectorMatchExpressions(t *testing.T) {
	const tee = "cctest.dev/tee"
	cases := []struct {
		op      metav1.LabelSelectorOperator
		values  []string
		match   []map[string]string
		nomatch []map[string]string
	}{
		{metav1.LabelSelectorOpIn, []string{"tdx", "snp"},
			[]map[string]string{{tee: "tdx"}, {tee: "snp"}},
			[]map[string]string{{tee: "none"}, nil}},
		{metav1.LabelSelectorOpNotIn, []string{"none"},
			[]map[string]string{{tee: "tdx"}, nil},
			[]map[string]string{{tee: "none"}}},
		{metav1.LabelSelectorOpExists, nil,
			[]map[string]string{{tee: "tdx"}, {tee: ""}},
			[]map[string]string{nil, {"other": "x"}}},
		{metav1.LabelSelectorOpDoesNotExist, nil,
			[]map[string]string{nil, {"other": "x"}},
			[]map[string]string{{tee: "tdx"}}},
	}
	for _, tc := range cases {
		t.Run(string(tc.op), func(t *testing.T) {
			f := newFixture(t)
			f.start(Config{Enabled: true, Selector: &metav1.LabelSelector{
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: tee, Operator: tc.op, Values: tc.values}},
			}})
			var no, yes []string
			for i, l := range tc.nomatch {
				n := f.name(fmt.Sprintf("no%d", i))
				f.createHost(rc(n, "runc", l))
				no = append(no, n)
			}
			// Created after the non-matching ones: once these are copied,
			// those have been dequeued (wantNoTenant holds for the rest).
			for i, l := range tc.match {
				n := f.name(fmt.Sprintf("yes%d", i))
				f.createHost(rc(n, "runc", l))
				yes = append(yes, n)
			}
			for _, n := range yes {
				f.waitTenant(n, nil)
			}
			for _, n := range no {
				f.wantNoTenant(n)
			}
		})
	}

	t.Run("matchLabels AND matchExpressions", func(t *testing.T) {
		f := newFixture(t)
		f.start(Config{Enabled: true, Selector: &metav1.LabelSelector{
			MatchLabels:      confidentialLabels,
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: tee, Operator: metav1.LabelSelectorOpIn, Values: []string{"tdx"}}},
		}})
		onlyLabel := f.name("only-label")
		f.createHost(rc(onlyLabel, "runc", confidentialLabels))
		onlyExpr := f.name("only-expr")
		f.createHost(rc(onlyExpr, "runc", map[string]string{tee: "tdx"}))
		both := f.name("both")
		f.createHost(rc(both, "runc", map[string]string{confidential: "true", tee: "tdx"}))
		f.waitTenant(both, nil)
		f.wantNoTenant(onlyLabel)
		f.wantNoTenant(onlyExpr)
	})
}

func TestEmptySelectorSyncsAll(t *testing.T) {
	for name, sel := range map[string]*metav1.LabelSelector{"absent": nil, "empty": {}} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			f.start(Config{Enabled: true, Selector: sel})
			var all []string
			for i, l := range []map[string]string{nil, {confidential: "false"}, confidentialLabels} {
				n := f.name(fmt.Sprintf("rc%d", i))
				f.createHost(rc(n, "runc", l))
				all = append(all, n)
			}
			for _, n := range all {
				f.waitTenant(n, nil)
			}
		})
	}
}

func TestRelabelledHostClassCopyIsDeletedPodsStay(t *testing.T) {
	f := newFixture(t)
	f.start(syncConfidential())
	name := f.name("kata-qemu-tdx")
	f.createHost(kataTDX(name))
	f.waitTenant(name, nil)
	ns := f.namespace()
	if _, err := f.tenant.CoreV1().Pods(ns).Create(f.ctx, pod("running", name), metav1.CreateOptions{}); err != nil {
		t.Fatalf("pod naming the synced class rejected: %v", err)
	}

	f.updateHost(name, func(c *nodev1.RuntimeClass) { c.Labels[confidential] = "false" })
	f.waitTenantGone(name)

	p, err := f.tenant.CoreV1().Pods(ns).Get(f.ctx, "running", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("pod using the class is gone: %v", err)
	}
	if p.DeletionTimestamp != nil || p.Spec.RuntimeClassName == nil || *p.Spec.RuntimeClassName != name {
		t.Errorf("pod was touched: deletion %v, runtimeClassName %v", p.DeletionTimestamp, p.Spec.RuntimeClassName)
	}
	if _, err := f.host.NodeV1().RuntimeClasses().Get(f.ctx, name, metav1.GetOptions{}); err != nil {
		t.Errorf("host class must stay: %v", err)
	}
}

func TestDeletedHostClassCopyIsDeleted(t *testing.T) {
	f := newFixture(t)
	f.start(syncConfidential())
	name := f.name("kata-qemu-snp")
	f.createHost(rc(name, "kata-qemu-snp", confidentialLabels))
	f.waitTenant(name, nil)
	f.deleteHost(name)
	f.waitTenantGone(name)
}

func TestTenantCreatedClassIsDeleted(t *testing.T) {
	f := newFixture(t)
	f.start(syncConfidential())
	plain := f.name("tenant-made")
	f.createTenant(rc(plain, "kata-qemu-tdx", confidentialLabels))
	f.waitTenantGone(plain)

	// vCluster checks for a non-empty value: an empty one does not protect.
	empty := f.name("empty-controlled-by")
	f.createTenant(rc(empty, "runc", map[string]string{ControlledByLabel: ""}))
	f.waitTenantGone(empty)
}

func TestControlledByTenantClassIsKept(t *testing.T) {
	f := newFixture(t)
	f.start(syncConfidential())
	kept := f.name("kata-deploy")
	f.createTenant(rc(kept, "kata-qemu-tdx", map[string]string{ControlledByLabel: "kata-deploy"}))

	// Same name as a matching host class: still left alone.
	twin := f.name("twin")
	f.createTenant(rc(twin, "runc", map[string]string{ControlledByLabel: "me", "tenant": "own"}))
	f.createHost(rc(twin, "runc", map[string]string{confidential: "true", "host": "label"}))

	f.hostBarrier(confidentialLabels)
	f.tenantBarrier()
	f.wantTenant(kept)
	got := f.wantTenant(twin)
	if got.Labels["tenant"] != "own" || got.Labels["host"] != "" {
		t.Errorf("controlled-by class was overwritten from the host: labels %v", got.Labels)
	}
}

// twinWithOtherHandler makes a tenant class and a matching host class of
// one name with different handlers: the host twin starts exempt
// (controlled-by), so the tenant's class is not deleted, then is handed to
// the syncer. It returns the tenant's class.
func (f *fixture) twinWithOtherHandler() *nodev1.RuntimeClass {
	f.t.Helper()
	name := f.name("twin")
	f.createHost(rc(name, "kata-qemu-tdx", map[string]string{confidential: "true", ControlledByLabel: "platform"}))
	own := f.createTenant(rc(name, "runc", map[string]string{"tenant": "own"}))
	f.tenantBarrier()
	f.updateHost(name, func(c *nodev1.RuntimeClass) { delete(c.Labels, ControlledByLabel) })
	f.hostBarrier(confidentialLabels)
	return own
}

func TestTwinWithOtherHandlerKeepsTheTenantObject(t *testing.T) {
	f := newFixture(t)
	f.start(syncConfidential())
	own := f.twinWithOtherHandler()
	// The update fails (handler is immutable) and is retried; nothing changes.
	got := f.wantTenant(own.Name)
	if got.UID != own.UID || got.Handler != "runc" || !equality.Semantic.DeepEqual(got.Labels, own.Labels) {
		t.Errorf("tenant class changed: uid %s handler %q labels %v, want uid %s handler runc labels %v", got.UID, got.Handler, got.Labels, own.UID, own.Labels)
	}
}

func TestHostClassControlledByIsNotCopied(t *testing.T) {
	f := newFixture(t)
	f.start(syncConfidential())
	name := f.name("owned-elsewhere")
	f.createHost(rc(name, "runc", map[string]string{confidential: "true", ControlledByLabel: "other"}))
	f.hostBarrier(confidentialLabels)
	f.wantNoTenant(name)
}

func TestSyncTurnedOffKeepsEarlierCopies(t *testing.T) {
	f := newFixture(t)
	f.start(syncConfidential())
	name := f.name("kata-qemu-tdx")
	f.createHost(kataTDX(name))
	f.waitTenant(name, nil)
	f.stopSyncers()

	f.start(Config{Enabled: false, Selector: confidentialSelector})
	f.deleteHost(name)
	tenantMade := f.name("tenant-made")
	f.createTenant(rc(tenantMade, "runc", nil))
	later := f.name("later")
	f.createHost(rc(later, "runc", confidentialLabels))
	time.Sleep(settle)

	f.wantTenant(name)
	f.wantTenant(tenantMade)
	f.wantNoTenant(later)
}

func TestPrivateNodesSyncNothingDeployedClassStays(t *testing.T) {
	f := newFixture(t)
	f.start(Config{Enabled: true, PrivateNodes: true})
	hostOnly := f.name("host-kata")
	f.createHost(rc(hostOnly, "kata-qemu-tdx", confidentialLabels))

	deployed := f.name("kata-qemu-tdx")
	_, tenantCfg := testenv.Configs(t)
	manifests := fmt.Sprintf(`apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: %s
handler: kata-qemu-tdx
overhead:
  podFixed:
    memory: 160Mi
`, deployed)
	if err := ApplyManifests(f.ctx, tenantCfg, manifests); err != nil {
		t.Fatal(err)
	}
	time.Sleep(settle)
	f.wantNoTenant(hostOnly)
	f.wantTenant(deployed)

	ns := f.namespace()
	if _, err := f.tenant.CoreV1().Pods(ns).Create(f.ctx, pod("confidential", deployed), metav1.CreateOptions{}); err != nil {
		t.Fatalf("pod naming the deployed class rejected: %v", err)
	}
}

func TestSharedNodesDeleteDeployedClassUnlessControlledBy(t *testing.T) {
	f := newFixture(t)
	f.start(syncConfidential())
	labelled := f.name("deployed-controlled")
	plain := f.name("deployed-plain")
	_, tenantCfg := testenv.Configs(t)
	manifests := fmt.Sprintf(`apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: %s
  labels:
    %s: tenant-manifests
handler: kata-qemu-tdx
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: %s
handler: kata-qemu-tdx
`, labelled, ControlledByLabel, plain)
	if err := ApplyManifests(f.ctx, tenantCfg, manifests); err != nil {
		t.Fatal(err)
	}
	f.waitTenantGone(plain) // applied after the labelled one, so that was dequeued
	f.wantTenant(labelled)
}

func TestBadSelectorIsRejected(t *testing.T) {
	for name, sel := range map[string]*metav1.LabelSelector{
		"NotExists operator": {MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "NotExists"}}},
		"In without values":  {MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: metav1.LabelSelectorOpIn}}},
		"Exists with values": {MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: metav1.LabelSelectorOpExists, Values: []string{"x"}}}},
		"bad label key":      {MatchLabels: map[string]string{"bad key!": "x"}},
	} {
		t.Run(name, func(t *testing.T) {
			host, tenant := fake.NewClientset(), fake.NewClientset()
			_, err := NewRuntimeClassSyncer(host, tenant, Config{Enabled: true, Selector: sel})
			if err == nil || !strings.Contains(err.Error(), "sync.fromHost.runtimeClasses.selector") {
				t.Fatalf("error = %v, want one naming sync.fromHost.runtimeClasses.selector", err)
			}
		})
	}
}

func TestPodNamingUnsyncedClassIsRejected(t *testing.T) {
	f := newFixture(t)
	f.start(syncConfidential())
	unsynced := f.name("runc-plain")
	f.createHost(rc(unsynced, "runc", nil))
	f.hostBarrier(confidentialLabels)
	ns := f.namespace()

	_, err := f.tenant.CoreV1().Pods(ns).Create(f.ctx, pod("wants-unsynced", unsynced), metav1.CreateOptions{})
	want := fmt.Sprintf(`pods "wants-unsynced" is forbidden: pod rejected: RuntimeClass %q not found`, unsynced)
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Fatalf("error = %v, want Forbidden %q", err, want)
	}
}

// Each fault flips an observable outcome of the tests above.

func TestFaultSyncIgnoresSelector(t *testing.T) {
	f := newFixture(t)
	f.start(syncConfidential(FaultSyncIgnoresSelector))
	unlabelled := f.name("runc-plain")
	f.createHost(rc(unlabelled, "runc", nil))
	f.waitTenant(unlabelled, nil) // without the fault: never copied
}

func TestFaultSyncKeepsUnmatched(t *testing.T) {
	f := newFixture(t)
	f.start(syncConfidential(FaultSyncKeepsUnmatched))
	deleted := f.name("deleted")
	f.createHost(rc(deleted, "kata-qemu-tdx", confidentialLabels))
	relabelled := f.name("relabelled")
	f.createHost(rc(relabelled, "kata-qemu-snp", confidentialLabels))
	f.waitTenant(deleted, nil)
	f.waitTenant(relabelled, nil)

	f.deleteHost(deleted)
	f.updateHost(relabelled, func(c *nodev1.RuntimeClass) { c.Labels[confidential] = "false" })
	f.hostBarrier(confidentialLabels)
	f.wantTenant(deleted)    // without the fault: deleted
	f.wantTenant(relabelled) // without the fault: deleted

	// Scope: tenant-created classes are still deleted.
	f.tenantBarrier()
}

func TestFaultSyncDeletesControlledBy(t *testing.T) {
	f := newFixture(t)
	f.start(syncConfidential(FaultSyncDeletesControlledBy))
	kept := f.name("kata-deploy")
	f.createTenant(rc(kept, "kata-qemu-tdx", map[string]string{ControlledByLabel: "kata-deploy"}))
	f.waitTenantGone(kept) // without the fault: kept
}

func TestFaultSyncSkipsHostUpdates(t *testing.T) {
	f := newFixture(t)
	f.start(syncConfidential(FaultSyncSkipsHostUpdates))
	name := f.name("kata-qemu-tdx")
	f.createHost(rc(name, "kata-qemu-tdx", map[string]string{confidential: "true", "tier": "a"}))
	f.waitTenant(name, nil)
	f.updateHost(name, func(c *nodev1.RuntimeClass) { c.Labels["tier"] = "b" })
	f.hostBarrier(confidentialLabels)
	if got := f.wantTenant(name); got.Labels["tier"] != "a" { // without the fault: b
		t.Errorf("copy was updated: labels %v", got.Labels)
	}
}

func TestFaultSyncReplacesHandler(t *testing.T) {
	f := newFixture(t)
	f.start(syncConfidential(FaultSyncReplacesHandler))
	own := f.twinWithOtherHandler()
	// Without the fault: the tenant's own object stays.
	f.waitTenant(own.Name, func(c *nodev1.RuntimeClass) bool { return c.UID != own.UID && c.Handler == "kata-qemu-tdx" })
}

func TestRunTwiceIsAnError(t *testing.T) {
	host, tenant := fake.NewClientset(), fake.NewClientset()
	s, err := NewRuntimeClassSyncer(host, tenant, Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatalf("first Run: %v", err)
	}
	if err := s.Run(ctx); err == nil {
		t.Fatal("second Run succeeded, want an error")
	}
}
