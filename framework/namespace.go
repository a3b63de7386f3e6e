package framework

import (
	"context"
	"fmt"
	"time"

	"github.com/onsi/ginkgo/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// LabelNamespaceOwner marks namespaces created by cctest specs.
const LabelNamespaceOwner = "cctest.dev/spec"

// CreateNamespace makes a fresh tenant namespace for one spec, waits until
// pods can be created in it (the default ServiceAccount exists) and
// registers its deletion as cleanup, which runs even if the spec fails.
func CreateNamespace(ctx context.Context, c kubernetes.Interface, prefix string) string {
	ginkgo.GinkgoHelper()
	ns, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: prefix + "-", Labels: map[string]string{LabelNamespaceOwner: prefix}}}, metav1.CreateOptions{})
	if err != nil {
		ginkgo.Fail(fmt.Sprintf("create namespace %s-*: %v", prefix, err))
	}
	ginkgo.DeferCleanup(func(ctx context.Context) {
		_ = c.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{})
	})
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, Timeout(30*time.Second), true, func(ctx context.Context) (bool, error) {
		_, err := c.CoreV1().ServiceAccounts(ns.Name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		ginkgo.Fail(fmt.Sprintf("namespace %s: no default ServiceAccount after %s (is the controller-manager running?)", ns.Name, Timeout(30*time.Second)))
	}
	return ns.Name
}
