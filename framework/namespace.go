package framework

import (
	"context"
	"time"

	"github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// LabelNamespaceOwner marks namespaces created by cctest specs.
const LabelNamespaceOwner = "cctest.dev/spec"

// CreateNamespace makes a fresh tenant namespace for one spec, waits until
// pods can be created in it (the default ServiceAccount exists) and
// registers its deletion as cleanup, which runs even if the spec fails.
func (r *Run) CreateNamespace(ctx context.Context, c kubernetes.Interface, prefix string) string {
	ginkgo.GinkgoHelper()
	ns, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: prefix + "-", Labels: map[string]string{LabelNamespaceOwner: prefix}}}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred(), "create namespace %s-*", prefix)
	ginkgo.DeferCleanup(func(ctx context.Context) {
		_ = c.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{})
	})
	Eventually(ctx, func(ctx context.Context) error {
		_, err := c.CoreV1().ServiceAccounts(ns.Name).Get(ctx, "default", metav1.GetOptions{})
		return err
	}).WithTimeout(r.Timeout(30*time.Second)).WithPolling(50*time.Millisecond).Should(Succeed(),
		"namespace %s: no default ServiceAccount (is the controller-manager running?)", ns.Name)
	return ns.Name
}
