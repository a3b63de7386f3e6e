package kubeletenv

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/cctest/cctest/probe"
)

func TestResolveLikeTheKubelet(t *testing.T) {
	c := fake.NewClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "svc", Namespace: "app"}, Data: map[string]string{"url": "https://x", "ca.crt": "PEM"}})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "app", UID: "u-1", Labels: map[string]string{"tier": "probe"}},
		Spec: corev1.PodSpec{NodeName: "tdx-1"}}
	ctr := corev1.Container{
		EnvFrom: []corev1.EnvFromSource{{Prefix: "CM_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "svc"}}}},
		Env: []corev1.EnvVar{
			{Name: "PLAIN", Value: "v"},
			{Name: probe.EnvPodUID, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.uid"}}},
			{Name: probe.EnvNodeName, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
			{Name: "TIER", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['tier']"}}},
			{Name: probe.EnvURL, ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "svc"}, Key: "url"}}},
		},
	}
	env, err := Resolve(context.Background(), c, pod, ctr)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"PLAIN": "v", probe.EnvPodUID: "u-1", probe.EnvNodeName: "tdx-1", "TIER": "probe", probe.EnvURL: "https://x", "CM_ca.crt": "PEM"}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	// A missing ConfigMap is an error: the kubelet would not start the container.
	ctr.Env = append(ctr.Env, corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}, Key: "k"}}})
	if _, err := Resolve(context.Background(), c, pod, ctr); err == nil || err.Error() != `env X: configmap "missing" not found` {
		t.Errorf("missing ConfigMap: %v", err)
	}
	if _, err := FieldValue(pod, "spec.bogus"); err == nil {
		t.Error("unsupported fieldRef accepted")
	}
}
