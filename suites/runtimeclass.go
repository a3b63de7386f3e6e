package suites

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cctest/cctest/framework"
)

var (
	specTenantClass = framework.Declare(framework.Spec{
		Name:      "the confidential RuntimeClasses exist in the tenant with their handlers",
		Checklist: framework.ChecklistPodRuntime,
		BrokenBy:  []string{"vnode-class-runs-runc"},
		FailsWith: `RuntimeClass vnode has the wrong handler`,
	})
	specUnknownRC = framework.Declare(framework.Spec{
		Name:      "a pod naming a RuntimeClass the tenant lacks is rejected with the API server's message",
		Checklist: framework.ChecklistPodRuntime,
		BrokenBy:  []string{"runtimeclass-admission-off"},
		FailsWith: `creating a pod with an unknown RuntimeClass`,
	})
)

var _ = describe(func(s *suite) {
	Describe("RuntimeClasses in the tenant", framework.Label("runtimeclass-sync"), func() {
		specTenantClass.It(func(ctx SpecContext) {
			for name, handler := range map[string]string{"kata-qemu-tdx": "kata-qemu-tdx", "kata-qemu-snp": "kata-qemu-snp", "vnode": "vnode"} {
				rc, err := s.c.Tenant.NodeV1().RuntimeClasses().Get(ctx, name, metav1.GetOptions{})
				Expect(err).NotTo(HaveOccurred(), "RuntimeClass %s is not in the tenant: with privateNodes vCluster does not sync RuntimeClasses; deploy it in the tenant", name)
				Expect(rc.Handler).To(Equal(handler), "RuntimeClass %s has the wrong handler", name)
			}
		})

		specUnknownRC.It(func(ctx SpecContext) {
			ns := s.CreateNamespace(ctx, s.c.Tenant, "runtimeclass")
			pod := podSpec{name: "no-such-class", runtimeClass: "kata-qemu-sgx"}
			_, err := s.c.Tenant.CoreV1().Pods(ns).Create(ctx, s.buildPod(pod), metav1.CreateOptions{})
			Expect(err).To(MatchError(`pods "no-such-class" is forbidden: pod rejected: RuntimeClass "kata-qemu-sgx" not found`),
				"creating a pod with an unknown RuntimeClass")
		})
	})
})
