package suites

import (
	"time"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/api/teename"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cctest/cctest/framework"
	"github.com/cctest/cctest/probe"
)

var (
	specSideBySide = framework.Declare(framework.Spec{
		Name:      "a vNode pod and a Kata pod run side by side on one confidential node",
		Labels:    []string{"path:pod"},
		Checklist: framework.ChecklistVNode,
		BrokenBy:  []string{"vnode-handler-missing", "vnode-kata-conflict", "vnode-no-userns", "vnode-class-runs-runc"},
		FailsWithUnder: map[string]string{
			// runc gives the pod no user namespace of its own.
			"vnode-class-runs-runc": `the vNode pod runs in the host's user namespace`,
			"vnode-handler-missing": `pod \S+/vnode will not run: FailedCreatePodSandBox: .*no runtime for "vnode" is configured`,
			"vnode-kata-conflict":   `pod \S+/vnode will not run: FailedCreatePodSandBox: .*runtime "vnode" conflicts with runtime "kata-qemu-tdx"`,
			"vnode-no-userns":       `the vNode pod runs in the host's user namespace`,
		},
		MayAlsoFailUnder: framework.Faults(allNodeFaults, kataFaults),
	})
	specMissingHandler = framework.Declare(framework.Spec{
		Name:             "a pod whose runtime handler is not installed on its node fails with the kubelet's sandbox error",
		Checklist:        framework.ChecklistPodRuntime,
		BrokenBy:         []string{"unknown-handler-runs-runc"},
		FailsWith:        `no FailedCreatePodSandBox event for \S+/wrong-handler: its containers ran instead`,
		MayAlsoFailUnder: tdxNodeFaults,
	})
)

var _ = describe(func(s *suite) {
	Describe("vNode and Kata", framework.Label("vnode-kata", "tee:tdx"), func() {
		var ns string
		BeforeEach(func(ctx SpecContext) { ns = s.CreateNamespace(ctx, s.c.Tenant, "vnode-kata") })
		JustAfterEach(func(ctx SpecContext) { framework.Diagnose(ctx, s.c, ns) })

		specSideBySide.It(func(ctx SpecContext) {
			s.createPod(ctx, ns, podSpec{name: "kata", runtimeClass: "kata-qemu-tdx", selector: map[string]string{mgmt.PropertyConfidentialCompute: teename.TDX}})
			kata := s.waitRunning(ctx, ns, "kata", 45*time.Second)
			s.createPod(ctx, ns, podSpec{name: "vnode", runtimeClass: "vnode", selector: map[string]string{"kubernetes.io/hostname": kata.Spec.NodeName}})
			vn := s.waitRunning(ctx, ns, "vnode", 30*time.Second)
			Expect(vn.Spec.NodeName).To(Equal(kata.Spec.NodeName), "the vNode pod and the Kata pod are not side by side")
			// vNode is vNode only if its pods run in a user namespace: the
			// probe reads /proc/self/uid_map from inside a vNode pod.
			_, r := s.runProbe(ctx, ns, s.probePod("vnode-userns", "vnode", map[string]string{"kubernetes.io/hostname": kata.Spec.NodeName}, nil, "runtime"))
			Expect(r.Runtime).NotTo(BeNil(), "the vNode probe reported no runtime: %s", r.Reason)
			inNS, err := probe.InUserNamespace(r.Runtime.UIDMap)
			Expect(err).NotTo(HaveOccurred(), "the vNode probe's /proc/self/uid_map")
			Expect(inNS).To(BeTrue(), "the vNode pod runs in the host's user namespace (uid map %q is the identity map): vNode must run each pod in its own user namespace", r.Runtime.UIDMap)
		})

		specMissingHandler.It(func(ctx SpecContext) {
			// kata-qemu-snp is not installed on TDX node images.
			s.createPod(ctx, ns, podSpec{name: "wrong-handler", runtimeClass: "kata-qemu-snp", selector: map[string]string{mgmt.PropertyConfidentialCompute: teename.TDX}})
			msg := s.waitEvent(ctx, ns, "wrong-handler", "FailedCreatePodSandBox", 90*time.Second)
			Expect(msg).To(ContainSubstring(`no runtime for "kata-qemu-snp" is configured`), "the sandbox error does not name the missing handler")
		})
	})
})
