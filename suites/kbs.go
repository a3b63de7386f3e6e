package suites

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cctest/cctest/attest/kbs"
)

// secretEnv is the variable spec pods carry their sealed secret in.
const secretEnv = "SECRET"

// kataKernelParams turns on the CoCo guest API's attestation endpoints
// (/aa/evidence, /aa/token) besides /cdh: the kata-agent passes it to
// api-server-rest. The runtime must allow the annotation (Kata's
// enable_annotations), and it changes the guest's measured command line.
const kataKernelParams = "agent.guest_components_rest_api=all"

// annotationKernelParams is Kata's annotation for extra guest kernel parameters.
const annotationKernelParams = "io.katacontainers.config.hypervisor.kernel_params"

// specSecret is a per-spec secret the spec put into the KBS.
type specSecret struct {
	repo, typ, tag string
	path           string // repo/type/tag
	sha256         string
}

// putSecret puts a fresh random secret into the KBS at
// cctest/<namespace>/<name> through its admin API and removes it when the
// spec ends. Only its digest leaves this function.
func (s *suite) putSecret(ctx context.Context, ns, name string) specSecret {
	GinkgoHelper()
	Expect(s.KBS).NotTo(BeNil(), "no KBS for this run: give cctest run --kbs-url and --kbs-admin-key")
	admin, err := kbs.NewAdmin(s.KBS.URL, s.KBS.AdminKey, s.KBS.CAPEM)
	Expect(err).NotTo(HaveOccurred(), "KBS admin client")
	value := randomHex(32)
	sec := specSecret{repo: "cctest", typ: ns, tag: name}
	sec.path = sec.repo + "/" + sec.typ + "/" + sec.tag
	sum := sha256.Sum256([]byte(value))
	sec.sha256 = hex.EncodeToString(sum[:])
	Expect(admin.PutResource(ctx, sec.repo, sec.typ, sec.tag, []byte(value))).To(Succeed(), "put the spec's secret into the KBS")
	DeferCleanup(func(ctx SpecContext) { _ = admin.DeleteResource(ctx, sec.repo, sec.typ, sec.tag) })
	return sec
}

// withSealedSecret makes the pod a confidential workload that needs the
// secret: a Kubernetes Secret holding it sealed (CoCo's sealed-secret
// format, naming the KBS resource), referenced by the probe container's
// environment, and the guest API's attestation feature switched on.
func (s *suite) withSealedSecret(ctx context.Context, pod *corev1.Pod, sec specSecret) {
	GinkgoHelper()
	name := pod.Name + "-sealed"
	_, err := s.c.Tenant.CoreV1().Secrets(sec.typ).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		StringData: map[string]string{secretEnv: kbs.Seal(sec.repo, sec.typ, sec.tag)},
	}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred(), "create the sealed secret %s/%s", sec.typ, name)
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[annotationKernelParams] = kataKernelParams
	c := &pod.Spec.Containers[0]
	c.Env = append(c.Env, corev1.EnvVar{Name: secretEnv, ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: secretEnv}}})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// expectSecretWithheld checks that a pod's first container, which needs
// the secret, was never created: the kubelet's Failed event names the
// secret, and the container waits in CreateContainerError. The event can
// come before the status update that goes with it, so the status gets a
// few seconds to follow.
func (s *suite) expectSecretWithheld(ctx context.Context, ns, name string, secret specSecret) {
	GinkgoHelper()
	msg := s.waitEvent(ctx, ns, name, "Failed", 45*time.Second)
	Expect(msg).To(ContainSubstring(kbs.ResourceURI(secret.repo, secret.typ, secret.tag)), "the container's creation failed, but not for the secret: %s", msg)
	var state corev1.ContainerState
	Eventually(ctx, func(ctx context.Context) (string, error) {
		p, err := s.c.Tenant.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		if len(p.Status.ContainerStatuses) == 0 {
			return "no container status", nil
		}
		state = p.Status.ContainerStatuses[0].State
		switch {
		case state.Running != nil || state.Terminated != nil:
			return "", StopTrying(fmt.Sprintf("the container that needs the secret was created: %+v", state))
		case state.Waiting == nil:
			return "not waiting", nil
		}
		return state.Waiting.Reason, nil
	}).WithTimeout(s.Timeout(10*time.Second)).WithPolling(podPoll).Should(Equal("CreateContainerError"),
		"pod %s/%s: the container that needs the secret waits for another reason", ns, name)
}
