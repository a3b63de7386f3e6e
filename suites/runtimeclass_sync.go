package suites

import (
	"context"
	"time"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/api/teename"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"

	"github.com/cctest/cctest/framework"
)

// The shared-nodes tenant syncs host RuntimeClasses labelled
// confidential-compute=tdx (the seed's selector).
var syncLabel = map[string]string{mgmt.PropertyConfidentialCompute: teename.TDX}

const controlledBy = "vcluster.loft.sh/controlled-by"

// The sync specs create host RuntimeClasses and watch the shared-nodes tenant.
var syncNeeds = []framework.Need{framework.NeedHostAccess, framework.NeedSharedTenant}

var (
	specSyncCopies = framework.Declare(framework.Spec{
		Name:      "a labelled host RuntimeClass appears in the shared-nodes tenant with its handler, scheduling and overhead",
		Checklist: framework.ChecklistPodRuntime,
		BrokenBy:  []string{"sync-drops-scheduling"},
		FailsWith: `tenant copy differs from the host class: .* scheduling nil`,
		Needs:     syncNeeds,
	})
	specSyncSelects = framework.Declare(framework.Spec{
		Name:      "a host RuntimeClass without the selector's label, or with another value, is not synced into the tenant",
		Checklist: framework.ChecklistPodRuntime,
		Needs:     syncNeeds,
		BrokenBy:  []string{"sync-ignores-selector"},
		FailsWith: `a host class that does not match the sync selector \S+ was synced`,
	})
	specSyncUpdates = framework.Declare(framework.Spec{
		Name:      "changing a synced host RuntimeClass's labels, overhead and scheduling changes the tenant copy",
		Checklist: framework.ChecklistPodRuntime,
		Needs:     syncNeeds,
		BrokenBy:  []string{"sync-skips-host-updates", "sync-drops-scheduling"},
		FailsWith: `host class \S+ changed \(label, overhead, scheduling\) but its tenant copy did not follow`,
		WaitsFor:  []string{"sync-skips-host-updates", "sync-drops-scheduling"},
	})
	specSyncRemoves = framework.Declare(framework.Spec{
		Name:      "relabelling or deleting the host RuntimeClass removes the tenant copy",
		Checklist: framework.ChecklistPodRuntime,
		Needs:     syncNeeds,
		// A relabelled class still "matches" a syncer that ignores the selector.
		BrokenBy:  []string{"sync-ignores-selector", "sync-keeps-unmatched"},
		FailsWith: `the host class no longer matches the selector but its tenant copy stayed`,
		WaitsFor:  []string{"sync-ignores-selector", "sync-keeps-unmatched"},
	})
	specSyncTenantLocal = framework.Declare(framework.Spec{
		Name:      "a tenant-created RuntimeClass is removed unless labelled vcluster.loft.sh/controlled-by",
		Checklist: framework.ChecklistPodRuntime,
		Needs:     syncNeeds,
		BrokenBy:  []string{"sync-deletes-controlled-by"},
		FailsWith: `labelled vcluster.loft.sh/controlled-by was removed: the syncer must leave it alone`,
	})
	specSyncOtherHandler = framework.Declare(framework.Spec{
		Name:      "a tenant RuntimeClass named like a host class but with another handler keeps its own object (handler is immutable)",
		Checklist: framework.ChecklistPodRuntime,
		Needs:     syncNeeds,
		BrokenBy:  []string{"sync-replaces-handler"},
		FailsWith: `was replaced by its host twin's \(handler kata-qemu-tdx\)`,
	})
	specSyncPrivateNodes = framework.Declare(framework.Spec{
		Name:      "with private nodes nothing is synced from the host",
		Checklist: framework.ChecklistAutoNodes,
		BrokenBy:  []string{"private-nodes-synced"},
		FailsWith: `a host class reached the private-nodes tenant`,
		Needs:     syncNeeds,
	})
)

var _ = describe(func(s *suite) {
	// Ordered: the specs that check what the syncer leaves alone share one
	// set-up (BeforeAll below); ContinueOnFailure: each spec still runs and
	// fails on its own.
	Describe("RuntimeClass sync", Ordered, ContinueOnFailure, framework.Label("runtimeclass-sync", "host-access", "disruptive"), func() {
		var shared kubernetes.Interface
		BeforeEach(func() { shared = s.c.Shared })
		newName := func() string { return "cctest-sync-" + utilrand.String(6) }

		// hostClass creates a RuntimeClass in the host, removed after the spec.
		hostClass := func(ctx context.Context, name string, labels map[string]string) *nodev1.RuntimeClass {
			GinkgoHelper()
			rc := &nodev1.RuntimeClass{
				ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
				Handler:    "kata-qemu-tdx",
				Overhead:   &nodev1.Overhead{PodFixed: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("160Mi")}},
				Scheduling: &nodev1.Scheduling{NodeSelector: map[string]string{mgmt.PropertyConfidentialCompute: teename.TDX}},
			}
			created, err := s.c.Host.NodeV1().RuntimeClasses().Create(ctx, rc, metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred(), "create host RuntimeClass")
			DeferCleanup(func(ctx context.Context) {
				_ = s.c.Host.NodeV1().RuntimeClasses().Delete(ctx, rc.Name, metav1.DeleteOptions{})
			})
			return created
		}
		// tenantClass creates a RuntimeClass in the shared-nodes tenant, removed after the spec.
		tenantClass := func(ctx context.Context, name string, labels map[string]string) *nodev1.RuntimeClass {
			GinkgoHelper()
			rc := &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Handler: "runc"}
			created, err := shared.NodeV1().RuntimeClasses().Create(ctx, rc, metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred(), "create tenant RuntimeClass %s", name)
			DeferCleanup(func(ctx context.Context) {
				_ = shared.NodeV1().RuntimeClasses().Delete(ctx, name, metav1.DeleteOptions{})
			})
			return created
		}
		// present waits until the tenant has (want=true) or lacks the class.
		present := func(ctx context.Context, cl kubernetes.Interface, name string, want bool, why string) *nodev1.RuntimeClass {
			GinkgoHelper()
			var got *nodev1.RuntimeClass
			Eventually(ctx, func(ctx context.Context) bool {
				rc, err := cl.NodeV1().RuntimeClasses().Get(ctx, name, metav1.GetOptions{})
				switch {
				case err == nil:
					got = rc
					return want
				case apierrors.IsNotFound(err):
					return !want
				}
				return false // any other error (e.g. the poll's own deadline) proves nothing
			}).WithTimeout(s.Timeout(15*time.Second)).WithPolling(50*time.Millisecond).Should(BeTrue(),
				"RuntimeClass %s: %s (waited %s)", name, why, s.Timeout(15*time.Second))
			return got
		}

		// "The syncer did nothing" needs care: vCluster reconciles with 10
		// workers, in no particular order. A marker created after the
		// subject and handled by the syncer proves its informer has seen
		// the subject (one watch per side, delivered in order) and the
		// workqueue (FIFO across names) has handed it to a worker, but not
		// that that worker has finished. So a no-op is checked as a state
		// that holds for a window after the marker: long for one reconcile
		// (a few API calls), and a too-short window can only let a faulty
		// syncer pass, never fail a correct one.
		window := func() time.Duration { return s.Timeout(2 * time.Second) }
		// hostSeen: the syncer has seen and dequeued every earlier host change.
		hostSeen := func(ctx context.Context) {
			GinkgoHelper()
			m := hostClass(ctx, newName(), syncLabel)
			present(ctx, shared, m.Name, true, "a labelled marker class never reached the tenant: is RuntimeClass sync running?")
		}
		// holds checks a state until the window after the marker seen at
		// marker has passed (at least two polls), failing at once with why.
		holds := func(ctx context.Context, marker time.Time, check func(g Gomega, ctx context.Context), why string, args ...any) {
			GinkgoHelper()
			const poll = 100 * time.Millisecond
			left := max(time.Until(marker.Add(window())), 2*poll)
			Consistently(ctx, check).WithTimeout(left).WithPolling(poll).Should(Succeed(), append([]any{why}, args...)...)
		}
		absent := func(ctx context.Context, marker time.Time, cl kubernetes.Interface, why string, names ...string) {
			GinkgoHelper()
			holds(ctx, marker, func(g Gomega, ctx context.Context) {
				for _, n := range names {
					_, err := cl.NodeV1().RuntimeClasses().Get(ctx, n, metav1.GetOptions{})
					g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "RuntimeClass %s is in the tenant (err %v)", n, err)
				}
			}, why)
		}

		specSyncCopies.It(func(ctx SpecContext) {
			rc := hostClass(ctx, newName(), syncLabel)
			copy := present(ctx, shared, rc.Name, true, "labelled host class did not appear in the shared-nodes tenant")
			same := copy.Handler == rc.Handler && copy.Overhead != nil && copy.Overhead.PodFixed.Memory().String() == "160Mi" &&
				copy.Scheduling != nil && copy.Scheduling.NodeSelector[mgmt.PropertyConfidentialCompute] == teename.TDX
			Expect(same).To(BeTrue(), "tenant copy differs from the host class: handler %q overhead %v scheduling %v", copy.Handler, copy.Overhead, copy.Scheduling)
		})

		specSyncUpdates.It(func(ctx SpecContext) {
			rc := hostClass(ctx, newName(), syncLabel)
			present(ctx, shared, rc.Name, true, "labelled host class did not appear")
			// Everything but the handler, which is immutable.
			rc.Labels["cctest.dev/revision"] = "2"
			rc.Overhead.PodFixed[corev1.ResourceMemory] = resource.MustParse("200Mi")
			rc.Scheduling.NodeSelector["cctest.dev/pool"] = "b"
			_, err := s.c.Host.NodeV1().RuntimeClasses().Update(ctx, rc, metav1.UpdateOptions{})
			Expect(err).NotTo(HaveOccurred(), "update host RuntimeClass %s", rc.Name)
			Eventually(ctx, func(g Gomega, ctx context.Context) {
				copy, err := shared.NodeV1().RuntimeClasses().Get(ctx, rc.Name, metav1.GetOptions{})
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(copy.Labels).To(HaveKeyWithValue("cctest.dev/revision", "2"), "label")
				g.Expect(copy.Overhead).NotTo(BeNil(), "overhead")
				g.Expect(copy.Overhead.PodFixed.Memory().String()).To(Equal("200Mi"), "overhead memory")
				g.Expect(copy.Scheduling).NotTo(BeNil(), "scheduling")
				g.Expect(copy.Scheduling.NodeSelector).To(HaveKeyWithValue("cctest.dev/pool", "b"), "scheduling nodeSelector")
			}).WithTimeout(s.Timeout(15*time.Second)).WithPolling(50*time.Millisecond).Should(Succeed(),
				"host class %s changed (label, overhead, scheduling) but its tenant copy did not follow", rc.Name)
		})

		specSyncRemoves.It(func(ctx SpecContext) {
			rc := hostClass(ctx, newName(), syncLabel)
			present(ctx, shared, rc.Name, true, "labelled host class did not appear")
			rc.Labels = map[string]string{mgmt.PropertyConfidentialCompute: "retired"}
			_, err := s.c.Host.NodeV1().RuntimeClasses().Update(ctx, rc, metav1.UpdateOptions{})
			Expect(err).NotTo(HaveOccurred(), "relabel host RuntimeClass %s", rc.Name)
			present(ctx, shared, rc.Name, false, "the host class no longer matches the selector but its tenant copy stayed")
			gone := hostClass(ctx, newName(), syncLabel)
			present(ctx, shared, gone.Name, true, "labelled host class did not appear")
			Expect(s.c.Host.NodeV1().RuntimeClasses().Delete(ctx, gone.Name, metav1.DeleteOptions{})).To(Succeed(), "delete host RuntimeClass %s", gone.Name)
			present(ctx, shared, gone.Name, false, "the host class was deleted but its tenant copy stayed")
		})

		// The four "the syncer leaves it alone" specs share one window:
		// their subjects are set up together before the first spec of this
		// container, then one marker proves the syncer has seen them all, and
		// each of the four checks its own subject, through its own assertion,
		// until the window after that marker ends (at least two polls). Back
		// to back they would wait four windows; the proof is the same.
		var (
			unlabelled, otherValue *nodev1.RuntimeClass // selector spec
			kept, local            *nodev1.RuntimeClass // tenant-created classes
			localGone              time.Time            // when local was first seen removed
			twin, own              *nodev1.RuntimeClass // a host twin with another handler
			notForPrivate          *nodev1.RuntimeClass // private-nodes spec
			quietFrom              time.Time
		)
		BeforeAll(func(ctx SpecContext) {
			shared = s.c.Shared                         // BeforeAll runs before the container's BeforeEach
			unlabelled = hostClass(ctx, newName(), nil) // no labels at all
			otherValue = hostClass(ctx, newName(), map[string]string{mgmt.PropertyConfidentialCompute: "none"})
			kept = tenantClass(ctx, "cctest-kept-"+utilrand.String(6), map[string]string{controlledBy: "tenant-admin"})
			// Created after kept, so its removal is also the marker for kept.
			local = tenantClass(ctx, "cctest-local-"+utilrand.String(6), nil)
			// The host twin starts exempt (controlled-by on the host side),
			// so the tenant's class of that name is neither deleted as
			// host-less nor overwritten; then the twin is handed to the syncer.
			twin = hostClass(ctx, newName(), map[string]string{mgmt.PropertyConfidentialCompute: teename.TDX, controlledBy: "platform-admin"})
			hostSeen(ctx) // else the syncer may not know the twin yet and delete the tenant's class
			own = tenantClass(ctx, twin.Name, map[string]string{"cctest.dev/owner": "tenant"})
			delete(twin.Labels, controlledBy)
			_, err := s.c.Host.NodeV1().RuntimeClasses().Update(ctx, twin, metav1.UpdateOptions{})
			Expect(err).NotTo(HaveOccurred(), "hand host RuntimeClass %s to the syncer", twin.Name)
			notForPrivate = hostClass(ctx, newName(), syncLabel)
			hostSeen(ctx) // every subject above is seen and dequeued; it reached the shared-nodes tenant, so the syncers ran
			quietFrom = time.Now()
			if _, err := shared.NodeV1().RuntimeClasses().Get(ctx, local.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
				localGone = quietFrom
			}
		})

		specSyncSelects.It(func(ctx SpecContext) {
			absent(ctx, quietFrom, shared, "a host class that does not match the sync selector confidential-compute=tdx was synced", unlabelled.Name, otherValue.Name)
		})

		specSyncTenantLocal.It(func(ctx SpecContext) {
			if localGone.IsZero() {
				present(ctx, shared, local.Name, false, "a tenant-created class without a host twin was not removed")
				localGone = time.Now()
			}
			holds(ctx, localGone, func(g Gomega, ctx context.Context) {
				_, err := shared.NodeV1().RuntimeClasses().Get(ctx, kept.Name, metav1.GetOptions{})
				g.Expect(apierrors.IsNotFound(err)).To(BeFalse(), "gone")
				g.Expect(err).NotTo(HaveOccurred())
			}, "the tenant class %s labelled %s was removed: the syncer must leave it alone", kept.Name, controlledBy)
		})

		specSyncOtherHandler.It(func(ctx SpecContext) {
			holds(ctx, quietFrom, func(g Gomega, ctx context.Context) {
				rc, err := shared.NodeV1().RuntimeClasses().Get(ctx, own.Name, metav1.GetOptions{})
				g.Expect(apierrors.IsNotFound(err)).To(BeFalse(), "gone")
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(rc.UID).To(Equal(own.UID), "uid")
				g.Expect(rc.Handler).To(Equal(own.Handler), "handler")
			}, "the tenant's RuntimeClass %s (handler %s) was replaced by its host twin's (handler %s): vCluster's update fails, handler being immutable, and the tenant keeps its own object",
				own.Name, own.Handler, twin.Handler)
		})

		specSyncPrivateNodes.It(func(ctx SpecContext) {
			if t, sh := s.Env.Tenant(), s.Env.SharedTenant(); t != nil && sh != nil && t.Host == sh.Host {
				Skip("this environment has no private-nodes tenant: the tenant is the shared-nodes tenant (e.g. --env kind)")
			}
			absent(ctx, quietFrom, s.c.Tenant, "a host class reached the private-nodes tenant: vCluster does not sync there, so the platform relies on something it should not", notForPrivate.Name)
		})
	})
})
