package node

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNormalizeImage(t *testing.T) {
	for in, want := range map[string][2]string{
		"busybox":                               {"docker.io/library/busybox:latest", "docker.io/library/busybox"},
		"nginx:1.27":                            {"docker.io/library/nginx:1.27", "docker.io/library/nginx"},
		"example/app:2":                         {"docker.io/example/app:2", "docker.io/example/app"},
		"ghcr.io/cctest/cctest:dev":             {"ghcr.io/cctest/cctest:dev", "ghcr.io/cctest/cctest"},
		"localhost:5000/x/y":                    {"localhost:5000/x/y:latest", "localhost:5000/x/y"},
		"registry.example/app@sha256:00aa":      {"registry.example/app@sha256:00aa", "registry.example/app"},
		"registry.example:443/app:v1@sha256:11": {"registry.example:443/app:v1@sha256:11", "registry.example:443/app"},
	} {
		ref, repo := normalizeImage(in)
		if ref != want[0] || repo != want[1] {
			t.Errorf("normalizeImage(%q) = %q, %q; want %q, %q", in, ref, repo, want[0], want[1])
		}
	}
}

func TestKernelAtLeast(t *testing.T) {
	for _, tc := range []struct {
		kernel, min string
		want        bool
	}{
		{"6.8.0-1015-intel", "6.1", true},
		{"6.1.0", "6.1", true},
		{"6.0.19", "6.1", false},
		{"5.15.0-105-generic", "6.1", false},
		{"7.0", "6.1", true},
		{"6.10rc1", "6.9", true},
		{"garbage", "6.1", false},
	} {
		if got := kernelAtLeast(tc.kernel, tc.min); got != tc.want {
			t.Errorf("kernelAtLeast(%q, %q) = %v", tc.kernel, tc.min, got)
		}
	}
}

func TestKubeletMaySet(t *testing.T) {
	for key, want := range map[string]bool{
		"confidential-compute":                true,
		"vcluster.com/node-type":              true,
		"node.kubernetes.io/instance-type":    true,
		"topology.kubernetes.io/zone":         true,
		"kubernetes.io/hostname":              true,
		"node-role.kubernetes.io/worker":      false,
		"node-restriction.kubernetes.io/pool": false,
		"example.k8s.io/x":                    false,
		"kubelet.kubernetes.io/anything":      true,
	} {
		if got := kubeletMaySet(key); got != want {
			t.Errorf("kubeletMaySet(%q) = %v", key, got)
		}
	}
}

func TestIsProbeContainer(t *testing.T) {
	f := &Fleet{cfg: Config{ProbeImages: []string{"registry.example/tools/probe:v2"}}}
	for _, tc := range []struct {
		c    corev1.Container
		want bool
	}{
		{corev1.Container{Image: "anything", Command: []string{"cctest", "probe", "quote"}}, true},
		{corev1.Container{Image: "anything", Command: []string{"/bin/cctest"}, Args: []string{"probe"}}, true},
		{corev1.Container{Image: "anything", Command: []string{"cctest", "attest"}}, false},
		{corev1.Container{Image: "anything", Command: []string{"sh", "-c", "cctest probe"}}, false},
		{corev1.Container{Image: "ghcr.io/cctest/cctest:v1", Args: []string{"probe", "egress"}}, true},
		{corev1.Container{Image: "registry.example/tools/probe:v3", Args: []string{"probe"}}, true},
		{corev1.Container{Image: "busybox", Args: []string{"probe"}}, false},
		{corev1.Container{Image: "ghcr.io/cctest/cctest:v1"}, false},
	} {
		if got := f.IsProbeContainer(tc.c); got != tc.want {
			t.Errorf("IsProbeContainer(%+v) = %v", tc.c, got)
		}
	}
}

func TestBehaviourAnnotations(t *testing.T) {
	f := &Fleet{}
	pod := func(a map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: a}}
	}
	c := corev1.Container{Name: "app", Image: "x"}
	if b := f.behaviourOf(pod(nil), c, false, false); b.kind != runForever {
		t.Errorf("no annotation: %+v", b)
	}
	b := f.behaviourOf(pod(map[string]string{AnnotationExitCode: "4", AnnotationRunFor: "1.5", AnnotationTerminationMessage: "m"}), c, false, false)
	if b.kind != runThenExit || b.exitCode != 4 || b.runFor != 1500*time.Millisecond || b.message != "m" {
		t.Errorf("annotated: %+v", b)
	}
	for _, a := range []map[string]string{
		{AnnotationExitCode: "x"}, {AnnotationExitCode: "300"}, {AnnotationExitCode: "0", AnnotationRunFor: "soon"}, {AnnotationExitCode: "0", AnnotationRunFor: "-1s"},
	} {
		if b := f.behaviourOf(pod(a), c, false, false); b.invalid == "" {
			t.Errorf("%v accepted: %+v", a, b)
		}
	}
}

func TestCrashBackoff(t *testing.T) {
	f := &Fleet{cfg: Config{BackoffInitial: 10 * time.Second, BackoffMax: 300 * time.Second}}
	want := []time.Duration{0, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second, 300 * time.Second}
	for i, w := range want {
		if got := f.crashBackoff(int32(i)); got != w {
			t.Errorf("crashBackoff(%d) = %s, want %s", i, got, w)
		}
	}
}
