package suites

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/framework"
)

var (
	specOnlyConfidential = spec("confidential pods land only on nodes advertising the property, plain pods never on TEE nodes")
	specCapacity         = spec("when every machine of a node type is in use, a pending pod gets a reason naming the exhausted capacity")
)

var _ = Describe("Scheduling", framework.Label("scheduling"), func() {
	var ns string
	BeforeEach(func(ctx SpecContext) { ns = framework.CreateNamespace(ctx, c.Tenant, "scheduling") })
	JustAfterEach(func(ctx SpecContext) { framework.Diagnose(ctx, c, ns) })

	It(specOnlyConfidential, framework.Label("tee:tdx", "tee:snp"), func(ctx SpecContext) {
		want := map[string]string{}
		// Two pods per TEE of the run, interleaved.
		tees := append(append([]string{}, framework.TEEs()...), framework.TEEs()...)
		for i, tee := range tees {
			name := fmt.Sprintf("%s-%d", tee, i)
			createPod(ctx, ns, podSpec{name: name, selector: map[string]string{mgmt.PropertyConfidentialCompute: tee}})
			want[name] = tee
		}
		createPod(ctx, ns, podSpec{name: "plain", selector: map[string]string{"cctest.dev/pool": "general"}})
		want["plain"] = ""
		var bad []string
		for name, tee := range want {
			pod := waitRunning(ctx, ns, name, 30e9)
			got, has := node(ctx, pod.Spec.NodeName).Labels[mgmt.PropertyConfidentialCompute]
			switch {
			case tee == "" && has:
				bad = append(bad, fmt.Sprintf("plain pod %s runs on TEE node %s (%s)", name, pod.Spec.NodeName, got))
			case tee != "" && got != tee:
				bad = append(bad, fmt.Sprintf("pod %s asked for %s but runs on node %s advertising %q", name, tee, pod.Spec.NodeName, got))
			}
		}
		if len(bad) > 0 {
			Fail(strings.Join(bad, "; "))
		}
	})

	It(specCapacity, framework.Label("auto-nodes", "tee:snp", "host-access"), func(ctx SpecContext) {
		if c.HostDyn == nil {
			Skip("needs --host-kubeconfig: capacity is the NodeType's status in the host")
		}
		u, err := c.HostDyn.Resource(mgmt.NodeTypeResource).Get(ctx, "snp-large", metav1.GetOptions{})
		if err != nil {
			Fail("NodeType snp-large: " + err.Error())
		}
		nt, err := mgmt.NodeTypeFrom(u)
		if err != nil {
			Fail(err.Error())
		}
		// One pod per usable machine, plus one: pods that may not share a node.
		n := nt.Status.Capacity.Total + 1
		if nt.Status.Capacity.Total == 0 {
			Fail("NodeType snp-large has no usable machines (status.capacity.total 0)")
		}
		for i := 0; i < n; i++ {
			createPod(ctx, ns, podSpec{name: fmt.Sprintf("snp-%d", i), antiAffinity: "fill-snp", selector: map[string]string{mgmt.PropertyConfidentialCompute: "sev-snp"}})
		}
		// Every machine gets one pod; the pod left over gets a reason.
		var reason string
		running := 0
		err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, framework.Timeout(60*time.Second), true, func(ctx context.Context) (bool, error) {
			running, reason = 0, ""
			for i := 0; i < n; i++ {
				name := fmt.Sprintf("snp-%d", i)
				if p, err := c.Tenant.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{}); err == nil && p.Status.Phase == corev1.PodRunning {
					running++
				} else if evs := events(ctx, ns, name, "NoMatchingNodeType"); len(evs) > 0 {
					reason = evs[0].Message
				}
			}
			return running == n-1 && reason != "", nil
		})
		if err != nil {
			Fail(fmt.Sprintf("with %d snp-large machines and %d pods that may not share a node: %d running, reason %q (want %d running and a capacity reason for the last)",
				n-1, n, running, reason, n-1))
		}
		if !strings.Contains(reason, "snp-large") || !strings.Contains(reason, "capacity") {
			Fail("the reason does not say snp-large is out of capacity: " + reason)
		}
	})
})
