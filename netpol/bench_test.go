package netpol

import (
	"fmt"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// benchPolicies builds n policies spread over 5 namespaces, mixing default
// deny, ipBlock/except, namespace+pod selectors and port ranges.
func benchPolicies(n int) []networkingv1.NetworkPolicy {
	tcp := corev1.ProtocolTCP
	out := make([]networkingv1.NetworkPolicy, 0, n)
	for i := 0; i < n; i++ {
		port := intstr.FromInt32(int32(8000 + i))
		end := int32(8100 + i)
		out = append(out, networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: fmt.Sprintf("ns%d", i%5)},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprintf("app%d", i%7)}},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
				Egress: []networkingv1.NetworkPolicyEgressRule{
					{
						To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: fmt.Sprintf("10.%d.0.0/16", i), Except: []string{fmt.Sprintf("10.%d.1.0/24", i)}}}},
						Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port, EndPort: &end}},
					},
					{
						To: []networkingv1.NetworkPolicyPeer{{
							NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": fmt.Sprintf("t%d", i%3)}},
							PodSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
								{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"db", "cache"}}}},
						}},
					},
				},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}},
			},
		})
	}
	return out
}

// BenchmarkEgress50 measures decisions per second against 50 policies for a
// mix of allowed and denied traffic (Reason strings included).
func BenchmarkEgress50(b *testing.B) {
	ps, err := Compile(benchPolicies(50))
	if err != nil {
		b.Fatal(err)
	}
	var traffic []Traffic
	for i := 0; i < 16; i++ {
		src := Peer{IsPod: true, Namespace: fmt.Sprintf("ns%d", i%5), Name: "src",
			PodLabels: map[string]string{"app": fmt.Sprintf("app%d", i%7)}, IP: netip.AddrFrom4([4]byte{10, 200, 0, byte(i)})}
		dstPod := Peer{IsPod: true, Namespace: "data", Name: "dst", PodLabels: map[string]string{"tier": "db"},
			NamespaceLabels: map[string]string{"team": fmt.Sprintf("t%d", i%3)}, IP: netip.AddrFrom4([4]byte{10, 201, 0, byte(i)})}
		traffic = append(traffic,
			Traffic{Source: src, Dest: External(netip.AddrFrom4([4]byte{10, byte(i), 0, 9})), Port: int32(8050 + i)},
			Traffic{Source: src, Dest: External(netip.AddrFrom4([4]byte{10, byte(i), 1, 9})), Port: int32(8050 + i)},
			Traffic{Source: src, Dest: dstPod, Port: 5432})
	}
	b.ReportAllocs()
	b.ResetTimer()
	allowed := 0
	for i := 0; i < b.N; i++ {
		if ps.Egress(traffic[i%len(traffic)]).Allowed {
			allowed++
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	if allowed == 0 || allowed == b.N && b.N > len(traffic) {
		b.Fatalf("benchmark traffic is not a mix: %d of %d allowed", allowed, b.N)
	}
}

// BenchmarkCompile50 measures validating and compiling 50 policies.
func BenchmarkCompile50(b *testing.B) {
	nps := benchPolicies(50)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Compile(nps); err != nil {
			b.Fatal(err)
		}
	}
}
