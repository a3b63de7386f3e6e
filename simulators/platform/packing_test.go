package platform

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	mgmt "github.com/cctest/cctest/api/management/v1"
)

func TestPacking(t *testing.T) {
	nt := &mgmt.NodeType{ObjectMeta: metav1.ObjectMeta{Name: "tdx-large"}, Spec: mgmt.NodeTypeSpec{
		Properties: map[string]string{"confidential-compute": "tdx"},
		Resources:  corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64"), corev1.ResourceMemory: resource.MustParse("512Gi")}}}
	pool := Pool{Name: "p", Taints: []corev1.Taint{{Key: "tee", Value: "tdx", Effect: corev1.TaintEffectNoSchedule}}}
	tolerate := []corev1.Toleration{{Key: "tee", Operator: corev1.TolerationOpExists}}
	pod := func(uid, cpu string, sel map[string]string, tol []corev1.Toleration) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid)}, Spec: corev1.PodSpec{NodeSelector: sel, Tolerations: tol,
			Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}}}
	}
	tdx := map[string]string{"confidential-compute": "tdx"}

	c := newClaimState("n", pool, nt, "m")
	for i := 0; i < 10; i++ {
		p := pod(string(rune('a'+i)), "6", tdx, tolerate)
		if !c.fits(p) {
			t.Fatalf("pod %d of 6 CPU does not fit a 64-CPU node holding %d", i, i)
		}
		c.take(p)
	}
	if c.fits(pod("k", "6", tdx, tolerate)) {
		t.Error("an 11th 6-CPU pod fits a 64-CPU node")
	}
	c = newClaimState("n", pool, nt, "m")
	for name, p := range map[string]*corev1.Pod{
		"wrong selector":    pod("x", "1", map[string]string{"confidential-compute": "sev-snp"}, tolerate),
		"untolerated taint": pod("y", "1", tdx, nil),
		"affinity":          func() *corev1.Pod { p := pod("z", "1", tdx, tolerate); p.Spec.Affinity = &corev1.Affinity{}; return p }(),
		"too big":           pod("w", "65", tdx, tolerate),
	} {
		if c.fits(p) {
			t.Errorf("%s: packed onto the claim", name)
		}
	}
	if !c.fits(pod("v", "1", tdx, tolerate)) {
		t.Error("a small tolerating TDX pod does not fit an empty tdx-large claim")
	}
}
