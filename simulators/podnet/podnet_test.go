package podnet

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/cctest/cctest/fixtures"
	"github.com/cctest/cctest/netpol"
)

const attestationName = "attestation.cctest-system.svc:8443"

// cluster builds a fake tenant with the attestation service's objects and
// a loopback listener behind its endpoint.
func cluster(t *testing.T, objs ...runtime.Object) (*Network, *corev1.Pod) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	ready := true
	name, port, proto := "https", int32(8443), corev1.ProtocolTCP
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "client", Namespace: "app", UID: "u1", Labels: map[string]string{"app": "confidential-workload"}},
		Status: corev1.PodStatus{PodIP: "10.1.0.2"}}
	base := []runtime.Object{
		nsObj("app"), nsObj("kube-system"), nsObj("cctest-system"), pod,
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "attestation", Namespace: "cctest-system"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.96.5.5", Selector: map[string]string{"app.kubernetes.io/name": "attestation"},
				Ports: []corev1.ServicePort{{Name: "https", Port: 8443, TargetPort: intstr.FromInt32(8443)}}}},
		&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "attestation-x", Namespace: "cctest-system",
			Labels: map[string]string{discoveryv1.LabelServiceName: "attestation"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.0.200.10"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
			Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &proto}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "empty", Namespace: "app"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.96.5.6", Selector: map[string]string{"x": "y"}, Ports: []corev1.ServicePort{{Port: 80}}}},
	}
	c := fake.NewClientset(append(base, objs...)...)
	return &Network{Tenant: c, Backends: map[string]string{"10.0.200.10:8443": ln.Addr().String()}}, pod
}

func nsObj(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelMetadataName: name}}}
}

func policies(t *testing.T, ns, file string) []runtime.Object {
	t.Helper()
	b, err := fixtures.Read(file)
	if err != nil {
		t.Fatal(err)
	}
	nps, err := netpol.Decode(file, b)
	if err != nil {
		t.Fatal(err)
	}
	var out []runtime.Object
	for i := range nps {
		nps[i].Namespace = ns
		out = append(out, &nps[i])
	}
	return out
}

func defaultDeny(ns string) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default-deny-egress", Namespace: ns},
		Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}}}
}

func dial(n *Network, pod *corev1.Pod, target string) error {
	c, err := n.Dial(context.Background(), pod, "tcp", target)
	if err == nil {
		c.Close()
	}
	return err
}

func TestUnisolatedPodReachesTheServiceEveryWay(t *testing.T) {
	n, pod := cluster(t)
	for _, target := range []string{attestationName, "attestation.cctest-system:8443", "attestation.cctest-system.svc.cluster.local:8443", "10.96.5.5:8443", "10.0.200.10:8443"} {
		if err := dial(n, pod, target); err != nil {
			t.Errorf("%s: %v", target, err)
		}
	}
}

func TestDefaultDenyDropsWithATimeout(t *testing.T) {
	n, pod := cluster(t, defaultDeny("app"))
	err := dial(n, pod, "10.96.5.5:8443")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("got %v, want a timeout", err)
	}
	if err.Error() != "dial tcp 10.96.5.5:8443: i/o timeout" {
		t.Errorf("message %q, want what a real node shows", err.Error())
	}
	if ex := Explain(err); !strings.Contains(ex, "app/default-deny-egress") || !strings.Contains(ex, "app.kubernetes.io/name=attestation") {
		t.Errorf("explanation %q does not name the policy and the destination", ex)
	}
	// Names cannot even be resolved: DNS egress is denied too.
	err = dial(n, pod, attestationName)
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsTimeout || !strings.Contains(err.Error(), "lookup attestation.cctest-system.svc on 10.96.0.10:53") {
		t.Errorf("name with DNS denied: %v", err)
	}
	if ex := Explain(err); !strings.Contains(ex, "53/UDP") {
		t.Errorf("DNS explanation %q", ex)
	}
}

func TestReferencePolicyAllowsOnlyTheAttestationService(t *testing.T) {
	n, pod := cluster(t, policies(t, "app", "reference/network-policies.yaml")...)
	if err := dial(n, pod, attestationName); err != nil {
		t.Fatalf("reference egress policy: %v", err)
	}
	d, err := n.Resolve(context.Background(), pod, attestationName)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := n.Decide(context.Background(), pod, d)
	if err != nil || !dec.Allowed || !strings.Contains(strings.Join(dec.AllowedBy, " "), "allow-attestation-egress") {
		t.Errorf("decision %+v %v", dec, err)
	}
	// Other destinations stay blocked.
	for _, target := range []string{"203.0.113.7:443", "10.96.5.5:9999"} {
		var ne net.Error
		if err := dial(n, pod, target); !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("%s: %v, want dropped", target, err)
		}
	}
	// A pod the rule does not select is blocked.
	other := pod.DeepCopy()
	other.Labels = map[string]string{"app": "other"}
	if err := dial(n, other, "10.96.5.5:8443"); Explain(err) == "" {
		t.Errorf("unselected pod: %v, want dropped by policy", err)
	}
}

func TestNamedPortRuleMatchesTheEndpoint(t *testing.T) {
	https := intstr.FromString("https")
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "named", Namespace: "app"},
		Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: &https}}}}}}
	n, pod := cluster(t, np)
	if err := dial(n, pod, "10.96.5.5:8443"); err != nil {
		t.Errorf("named port rule: %v", err)
	}
}

func TestBlackholeDropsWhateverThePolicies(t *testing.T) {
	n, pod := cluster(t)
	n.Blackhole = func(_ *corev1.Pod, d Destination) bool { return d.Service == "cctest-system/attestation" }
	err := dial(n, pod, "10.96.5.5:8443")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || Explain(err) != "" {
		t.Errorf("blackholed: %v (explain %q)", err, Explain(err))
	}
	d, _ := n.Resolve(context.Background(), pod, "10.96.5.5:8443")
	dec, _ := n.Decide(context.Background(), pod, d)
	if dec.Allowed || !strings.Contains(dec.Reason, "timed out") {
		t.Errorf("decision %+v", dec)
	}
}

func TestRefusedAndUnknown(t *testing.T) {
	peer := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "server", Namespace: "app", Labels: map[string]string{"role": "db"}},
		Status: corev1.PodStatus{PodIP: "10.1.0.9"}}
	n, pod := cluster(t, peer)
	for target, want := range map[string]string{
		"127.0.0.1:8443":                "connection refused", // the pod's own loopback
		"empty.app.svc:80":              "connection refused", // no endpoints
		"10.1.0.9:5432":                 "connection refused", // a pod that serves nothing
		"nowhere.app.svc:80":            "no such host",
		"example.com:443":               "no such host",
		"10.96.5.5:notaport":            "invalid port",
		"attestation.cctest-system.svc": "missing port",
	} {
		if err := dial(n, pod, target); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", target, err, want)
		}
	}
	// The destination pod's ingress isolation counts too.
	deny := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "db-ingress", Namespace: "app"},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"role": "db"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}}
	n2, pod2 := cluster(t, peer, deny)
	if err := dial(n2, pod2, "10.1.0.9:5432"); !strings.Contains(Explain(err), "ingress") {
		t.Errorf("ingress-isolated destination: %v (%s)", err, Explain(err))
	}
}

func TestBadPolicyIsAnError(t *testing.T) {
	bad := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: "app"},
		Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "nope"}}}}}}}
	n, pod := cluster(t, bad)
	err := dial(n, pod, "10.96.5.5:8443")
	if err == nil || !strings.Contains(err.Error(), "cidr") {
		t.Errorf("bad policy: %v", err)
	}
}

// Decisions never send a packet anywhere: a dropped connection and an
// allowed one without a backend fail before any dial, and the only
// addresses ever dialled are the loopback listeners of Backends. So an
// outside address a spec probes (203.0.113.7) is never contacted.
func TestNothingLeavesLoopback(t *testing.T) {
	neighbour := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "cctest-system", Labels: map[string]string{"app": "other"}},
		Status: corev1.PodStatus{PodIP: "10.1.0.9"}}
	for _, unenforced := range []bool{false, true} {
		n, pod := cluster(t, append(policies(t, "app", "reference/network-policies.yaml"), neighbour)...)
		n.Unenforced = unenforced
		var dialled []string
		n.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialled = append(dialled, addr)
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
		for _, target := range []string{"203.0.113.7:443", "10.1.0.9:8443", "10.96.5.6:80", attestationName} {
			_ = dial(n, pod, target)
		}
		for _, a := range dialled {
			ap, err := netip.ParseAddrPort(a)
			if err != nil || !ap.Addr().IsLoopback() {
				t.Errorf("unenforced=%v: dialled %s, which is not loopback", unenforced, a)
			}
		}
		if len(dialled) != 1 {
			t.Errorf("unenforced=%v: dialled %v, want only the attestation service's listener", unenforced, dialled)
		}
	}
}

func TestUnenforcedForOnePodOnly(t *testing.T) {
	n, pod := cluster(t, defaultDeny("app"))
	n.UnenforcedFor = func(p *corev1.Pod) bool { return p.Spec.NodeName == "snp-1" }
	if err := dial(n, pod, "10.0.200.10:8443"); Explain(err) == "" {
		t.Errorf("pod on an enforcing node: %v, want dropped by policy", err)
	}
	snp := pod.DeepCopy()
	snp.Spec.NodeName = "snp-1"
	if err := dial(n, snp, "10.0.200.10:8443"); err != nil {
		t.Errorf("pod on a node that does not enforce policies: %v", err)
	}
}

func TestRewriteChangesWhatTheNetworkReads(t *testing.T) {
	neighbour := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "cctest-system", Labels: map[string]string{"app": "other"}},
		Status: corev1.PodStatus{PodIP: "10.1.0.9"}}
	n, pod := cluster(t, append(policies(t, "app", "reference/network-policies.yaml"), neighbour)...)
	if err := dial(n, pod, "10.1.0.9:8443"); Explain(err) == "" {
		t.Fatalf("another pod of the attestation namespace: %v, want dropped by policy", err)
	}
	n.Rewrite = func(nps []networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy {
		for i := range nps {
			for j := range nps[i].Spec.Egress {
				for k := range nps[i].Spec.Egress[j].To {
					nps[i].Spec.Egress[j].To[k].PodSelector = nil
				}
			}
		}
		return nps
	}
	if err := dial(n, pod, "10.1.0.9:8443"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("pod selector ignored: %v, want the packets through (refused)", err)
	}
	if err := dial(n, pod, "203.0.113.7:443"); Explain(err) == "" {
		t.Errorf("outside address: %v, want dropped by policy", err)
	}
}

// A hostNetwork pod is no pod to NetworkPolicy: default-deny in its
// namespace does not hold it back, and it needs no cluster DNS rule.
func TestHostNetworkIsNotSelected(t *testing.T) {
	n, pod := cluster(t, defaultDeny("app"))
	host := pod.DeepCopy()
	host.Spec.HostNetwork = true
	host.Status.PodIP = "192.168.10.4"
	if err := dial(n, host, "10.0.200.10:8443"); err != nil {
		t.Errorf("host-network pod under default-deny: %v", err)
	}
	if err := dial(n, pod, "10.0.200.10:8443"); Explain(err) == "" {
		t.Errorf("pod-network pod under default-deny: %v, want dropped by policy", err)
	}
}

// The simulation's own API reads do not count against the pod's dial
// deadline: a slow decision must not read as a dropped connection.
func TestSlowDecisionIsNoDrop(t *testing.T) {
	n, pod := cluster(t)
	slow := n.Tenant.(*fake.Clientset)
	slow.PrependReactor("list", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
		time.Sleep(50 * time.Millisecond)
		return false, nil, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	c, err := n.Dial(ctx, pod, "tcp", "10.0.200.10:8443")
	if err != nil {
		t.Fatalf("a slow decision on an allowed connection: %v", err)
	}
	c.Close()
}
