package framework

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmt "github.com/cctest/cctest/api/management/v1"
)

// Diagnose attaches what a person needs to understand a failed spec to the
// Ginkgo report: pods and events of the namespace, tenant nodes with their
// labels, and the host's NodeClaims. Call it from JustAfterEach.
func Diagnose(ctx context.Context, c *Clients, namespace string) {
	if !ginkgo.CurrentSpecReport().Failed() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var b strings.Builder
	if namespace != "" {
		if pods, err := c.Tenant.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{}); err == nil {
			fmt.Fprintf(&b, "pods in %s:\n", namespace)
			for _, p := range pods.Items {
				fmt.Fprintf(&b, "  %s phase=%s node=%q reason=%q message=%q\n", p.Name, p.Status.Phase, p.Spec.NodeName, p.Status.Reason, p.Status.Message)
			}
		}
		if evs, err := c.Tenant.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{}); err == nil {
			sort.Slice(evs.Items, func(i, j int) bool { return evs.Items[i].LastTimestamp.Before(&evs.Items[j].LastTimestamp) })
			fmt.Fprintf(&b, "events in %s:\n", namespace)
			for _, e := range evs.Items {
				fmt.Fprintf(&b, "  %s %s/%s %s: %s\n", e.Type, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
			}
		}
	}
	if nodes, err := c.Tenant.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil {
		b.WriteString("tenant nodes:\n")
		for _, n := range nodes.Items {
			fmt.Fprintf(&b, "  %s labels=%v\n", n.Name, n.Labels)
		}
	}
	if c.HostDyn != nil {
		if list, err := c.HostDyn.Resource(mgmt.NodeClaimResource).List(ctx, metav1.ListOptions{}); err == nil {
			b.WriteString("host NodeClaims:\n")
			for i := range list.Items {
				if nc, err := mgmt.NodeClaimFrom(&list.Items[i]); err == nil {
					fmt.Fprintf(&b, "  %s/%s type=%s phase=%s reason=%s message=%q\n", nc.Namespace, nc.Name, nc.Spec.TypeRef, nc.Status.Phase, nc.Status.Reason, nc.Status.Message)
				}
			}
		}
	}
	ginkgo.AddReportEntry("diagnostics", b.String(), ginkgo.ReportEntryVisibilityFailureOrVerbose)
}
