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

var (
	specSyncCopies = framework.Declare(framework.Spec{
		Name:      "a labelled host RuntimeClass appears in the shared-nodes tenant with its handler, scheduling and overhead",
		Checklist: framework.ChecklistPodRuntime,
	})
	specSyncSelects = framework.Declare(framework.Spec{
		Name:      "an unlabelled host RuntimeClass is not synced into the tenant",
		Checklist: framework.ChecklistPodRuntime,
		BrokenBy:  []string{"sync-ignores-selector"},
	})
	specSyncRemoves = framework.Declare(framework.Spec{
		Name:      "relabelling or deleting the host RuntimeClass removes the tenant copy",
		Checklist: framework.ChecklistPodRuntime,
		// A relabelled class still "matches" a syncer that ignores the selector.
		BrokenBy: []string{"sync-ignores-selector", "sync-keeps-unmatched"},
	})
	specSyncTenantLocal = framework.Declare(framework.Spec{
		Name:      "a tenant-created RuntimeClass is removed unless labelled vcluster.loft.sh/controlled-by",
		Checklist: framework.ChecklistPodRuntime,
		BrokenBy:  []string{"sync-deletes-controlled-by"},
	})
	specSyncPrivateNodes = framework.Declare(framework.Spec{
		Name:      "with private nodes nothing is synced from the host",
		Checklist: framework.ChecklistAutoNodes,
	})
)

var _ = describe(func(s *suite) {
	Describe("RuntimeClass sync", framework.Label("runtimeclass-sync", "host-access", "disruptive"), func() {
		var shared kubernetes.Interface
		BeforeEach(func() {
			if s.c.Shared == nil {
				Skip("needs a shared-nodes tenant with RuntimeClass sync (--shared-tenant-kubeconfig)")
			}
			if s.c.Host == nil {
				Skip("needs --host-kubeconfig: the spec creates host RuntimeClasses")
			}
			shared = s.c.Shared
		})

		// hostClass creates a RuntimeClass in the host, removed after the spec.
		hostClass := func(ctx context.Context, labels map[string]string) *nodev1.RuntimeClass {
			GinkgoHelper()
			rc := &nodev1.RuntimeClass{
				ObjectMeta: metav1.ObjectMeta{Name: "cctest-sync-" + utilrand.String(6), Labels: labels},
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
		// settle proves the syncer handled everything before now: a marker
		// class created later has arrived (vCluster's syncer works in order).
		settle := func(ctx context.Context) {
			GinkgoHelper()
			m := hostClass(ctx, syncLabel)
			present(ctx, shared, m.Name, true, "a labelled marker class never reached the tenant: is RuntimeClass sync running?")
		}

		specSyncCopies.It(func(ctx SpecContext) {
			rc := hostClass(ctx, syncLabel)
			copy := present(ctx, shared, rc.Name, true, "labelled host class did not appear in the shared-nodes tenant")
			same := copy.Handler == rc.Handler && copy.Overhead != nil && copy.Overhead.PodFixed.Memory().String() == "160Mi" &&
				copy.Scheduling != nil && copy.Scheduling.NodeSelector[mgmt.PropertyConfidentialCompute] == teename.TDX
			Expect(same).To(BeTrue(), "tenant copy differs from the host class: handler %q overhead %v scheduling %v", copy.Handler, copy.Overhead, copy.Scheduling)
		})

		specSyncSelects.It(func(ctx SpecContext) {
			rc := hostClass(ctx, map[string]string{mgmt.PropertyConfidentialCompute: "none"})
			settle(ctx)
			_, err := shared.NodeV1().RuntimeClasses().Get(ctx, rc.Name, metav1.GetOptions{})
			Expect(apierrors.IsNotFound(err)).To(BeTrue(), "host class %s does not match the sync selector confidential-compute=tdx but was synced", rc.Name)
		})

		specSyncRemoves.It(func(ctx SpecContext) {
			rc := hostClass(ctx, syncLabel)
			present(ctx, shared, rc.Name, true, "labelled host class did not appear")
			rc.Labels = map[string]string{mgmt.PropertyConfidentialCompute: "retired"}
			_, err := s.c.Host.NodeV1().RuntimeClasses().Update(ctx, rc, metav1.UpdateOptions{})
			Expect(err).NotTo(HaveOccurred(), "relabel host RuntimeClass %s", rc.Name)
			present(ctx, shared, rc.Name, false, "the host class no longer matches the selector but its tenant copy stayed")
			gone := hostClass(ctx, syncLabel)
			present(ctx, shared, gone.Name, true, "labelled host class did not appear")
			Expect(s.c.Host.NodeV1().RuntimeClasses().Delete(ctx, gone.Name, metav1.DeleteOptions{})).To(Succeed(), "delete host RuntimeClass %s", gone.Name)
			present(ctx, shared, gone.Name, false, "the host class was deleted but its tenant copy stayed")
		})

		specSyncTenantLocal.It(func(ctx SpecContext) {
			local := &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "cctest-local-" + utilrand.String(6)}, Handler: "runc"}
			kept := &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "cctest-kept-" + utilrand.String(6),
				Labels: map[string]string{controlledBy: "tenant-admin"}}, Handler: "runc"}
			for _, rc := range []*nodev1.RuntimeClass{local, kept} {
				_, err := shared.NodeV1().RuntimeClasses().Create(ctx, rc, metav1.CreateOptions{})
				Expect(err).NotTo(HaveOccurred(), "create tenant RuntimeClass %s", rc.Name)
				DeferCleanup(func(ctx context.Context) {
					_ = shared.NodeV1().RuntimeClasses().Delete(ctx, rc.Name, metav1.DeleteOptions{})
				})
			}
			present(ctx, shared, local.Name, false, "a tenant-created class without a host twin was not removed")
			settle(ctx)
			_, err := shared.NodeV1().RuntimeClasses().Get(ctx, kept.Name, metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred(), "the tenant class labelled %s was removed: the syncer must leave it alone", controlledBy)
		})

		specSyncPrivateNodes.It(func(ctx SpecContext) {
			if t, sh := s.Env.Tenant(), s.Env.SharedTenant(); t != nil && sh != nil && t.Host == sh.Host {
				Skip("this environment has no private-nodes tenant: the tenant is the shared-nodes tenant (e.g. --env kind)")
			}
			rc := hostClass(ctx, syncLabel)
			settle(ctx) // reached the shared-nodes tenant, so the syncers ran
			_, err := s.c.Tenant.NodeV1().RuntimeClasses().Get(ctx, rc.Name, metav1.GetOptions{})
			Expect(apierrors.IsNotFound(err)).To(BeTrue(), "host class %s reached the private-nodes tenant: vCluster does not sync there, so the platform relies on something it should not", rc.Name)
		})
	})
})
