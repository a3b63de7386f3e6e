package suites

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cctest/cctest/framework"
)

var (
	specTenantClass = spec("the confidential RuntimeClasses exist in the tenant with their handlers")
	specUnknownRC   = spec("a pod naming a RuntimeClass the tenant lacks is rejected with the API server's message")
)

var _ = Describe("RuntimeClasses in the tenant", framework.Label("runtimeclass-sync"), func() {
	It(specTenantClass, func(ctx SpecContext) {
		for name, handler := range map[string]string{"kata-qemu-tdx": "kata-qemu-tdx", "kata-qemu-snp": "kata-qemu-snp", "vnode": "vnode"} {
			rc, err := c.Tenant.NodeV1().RuntimeClasses().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				Fail(fmt.Sprintf("RuntimeClass %s is not in the tenant (%v): with privateNodes vCluster does not sync RuntimeClasses; deploy it in the tenant", name, err))
			}
			if rc.Handler != handler {
				Fail(fmt.Sprintf("RuntimeClass %s has handler %q, want %q", name, rc.Handler, handler))
			}
		}
	})

	It(specUnknownRC, func(ctx SpecContext) {
		ns := framework.CreateNamespace(ctx, c.Tenant, "runtimeclass")
		pod := podSpec{name: "no-such-class", runtimeClass: "kata-qemu-sgx"}
		_, err := c.Tenant.CoreV1().Pods(ns).Create(ctx, buildPod(pod), metav1.CreateOptions{})
		want := `pods "no-such-class" is forbidden: pod rejected: RuntimeClass "kata-qemu-sgx" not found`
		if err == nil || err.Error() != want {
			Fail(fmt.Sprintf("creating a pod with an unknown RuntimeClass: got %v, want %q", err, want))
		}
	})
})
