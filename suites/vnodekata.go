package suites

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/cctest/cctest/framework"
)

var (
	specSideBySide     = spec("a vNode pod and a Kata pod run side by side on one confidential node")
	specMissingHandler = spec("a pod whose runtime handler is not installed on its node fails with the kubelet's sandbox error")
)

var _ = Describe("vNode and Kata", framework.Label("vnode-kata", "tee:tdx"), func() {
	var ns string
	BeforeEach(func(ctx SpecContext) { ns = framework.CreateNamespace(ctx, c.Tenant, "vnode-kata") })
	JustAfterEach(func(ctx SpecContext) { framework.Diagnose(ctx, c, ns) })

	It(specSideBySide, func(ctx SpecContext) {
		createPod(ctx, ns, podSpec{name: "kata", runtimeClass: "kata-qemu-tdx", selector: map[string]string{"confidential-compute": "tdx"}})
		kata := waitRunning(ctx, ns, "kata", 45e9)
		createPod(ctx, ns, podSpec{name: "vnode", runtimeClass: "vnode", selector: map[string]string{"kubernetes.io/hostname": kata.Spec.NodeName}})
		vn := waitRunning(ctx, ns, "vnode", 30e9)
		if vn.Spec.NodeName != kata.Spec.NodeName {
			Fail(fmt.Sprintf("vNode pod on %s, Kata pod on %s: not side by side", vn.Spec.NodeName, kata.Spec.NodeName))
		}
	})

	It(specMissingHandler, func(ctx SpecContext) {
		// kata-qemu-snp is not installed on TDX node images.
		createPod(ctx, ns, podSpec{name: "wrong-handler", runtimeClass: "kata-qemu-snp", selector: map[string]string{"confidential-compute": "tdx"}})
		msg := waitEvent(ctx, ns, "wrong-handler", "FailedCreatePodSandBox", 90e9)
		if !strings.Contains(msg, `no runtime for "kata-qemu-snp" is configured`) {
			Fail("the sandbox error does not name the missing handler: " + msg)
		}
	})
})
