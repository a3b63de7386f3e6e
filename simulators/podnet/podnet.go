// Package podnet is the simulated pod network of the embedded platform.
// For a connection a pod opens it does what cluster DNS, kube-proxy and a
// NetworkPolicy-enforcing CNI do on a real node: resolve the name or
// ClusterIP to a Service endpoint, decide with netpol whether the tenant's
// NetworkPolicies (read through the API at that moment) let it through, and
// only then connect. Denied traffic is dropped, so the pod sees what it
// would see on a real node: a timeout, never an explanation; the dial error
// carries the policy decision for diagnostics (see Dropped).
//
// Simulated pods serve nothing, so an allowed connection succeeds only to
// an endpoint mapped onto a real listener (Backends); anything else is
// refused, which still proves the packets got through.
package podnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cctest/cctest/netpol"
)

// Cluster DNS as pods see it (the kubeadm convention).
const (
	DNSServiceIP  = "10.96.0.10"
	ClusterDomain = "cluster.local"
)

// simulationBudget bounds the API reads behind one connection's decision.
const simulationBudget = 30 * time.Second

// Network answers for the pods of one tenant.
type Network struct {
	Tenant kubernetes.Interface
	// Backends maps advertised endpoint addresses ("10.0.200.10:8443") onto
	// the loopback listeners that serve them ("127.0.0.1:41234").
	Backends map[string]string
	// Blackhole, when set and true for a destination, drops the traffic
	// whatever the policies say (a broken platform; faults use it).
	Blackhole func(pod *corev1.Pod, d Destination) bool
	// PodLoopback serves a pod's own loopback ports: what listens on
	// 127.0.0.1:port inside the pod (e.g. the CoCo guest API a Kata guest
	// serves on 8006), as the address of a real listener. Loopback traffic
	// is never subject to NetworkPolicies.
	PodLoopback func(pod *corev1.Pod, port int32) (addr string, ok bool)
	// Unenforced, when true, lets every connection through whatever the
	// NetworkPolicies say (a network plugin that does not enforce them).
	Unenforced bool
	// UnenforcedFor, when set and true for the sending pod, lets its
	// connections through whatever the policies say: the network plugin of
	// that pod's node does not enforce them (egress is enforced on the
	// sending node).
	UnenforcedFor func(pod *corev1.Pod) bool
	// Rewrite, when set, is applied to the tenant's NetworkPolicies before
	// they are compiled: a network plugin that misreads them (faults use it).
	Rewrite func([]networkingv1.NetworkPolicy) []networkingv1.NetworkPolicy
	// Dialer connects to backends (default a net.Dialer).
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Destination is where a connection goes, resolved as a node would.
type Destination struct {
	Target  string      // host:port as asked
	Addr    string      // IP:port the packets are sent to (a ClusterIP, a pod IP, an outside address)
	Peer    netpol.Peer // the receiving end, for NetworkPolicy
	Port    int32       // port at the receiving end (after Service translation): what policies match
	Backend string      // endpoint IP:port behind a Service ("" = the Addr itself)
	Service string      // "namespace/name" when the target is a Service
	// Loopback is the pod's own loopback (never subject to policies).
	Loopback bool
	// NoEndpoints: a Service without ready endpoints (kube-proxy rejects).
	NoEndpoints bool
}

// String names the destination for messages.
func (d Destination) String() string {
	if d.Service != "" {
		return fmt.Sprintf("Service %s (%s)", d.Service, d.Addr)
	}
	return d.Addr
}

// Dropped is the error of a connection a policy (or the platform) dropped:
// it reads "i/o timeout" like the real thing; Decision says why.
type Dropped struct {
	Decision netpol.Decision
	// ByPlatform: dropped regardless of policies (Blackhole).
	ByPlatform bool
}

func (e *Dropped) Error() string   { return "i/o timeout" }
func (e *Dropped) Timeout() bool   { return true }
func (e *Dropped) Temporary() bool { return true }

// Explain is the simulator's diagnosis, which a real node cannot give.
func (e *Dropped) Explain() string {
	if e.ByPlatform {
		return ""
	}
	return "NetworkPolicy: " + e.Decision.Reason
}

// DialFunc returns the dialer of a pod's network namespace.
func (n *Network) DialFunc(pod *corev1.Pod) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return n.Dial(ctx, pod, network, addr)
	}
}

// Dial opens a TCP connection from pod to target (host:port), resolving
// names through the simulated cluster DNS (itself subject to the pod's
// egress policies) and enforcing the policies on the connection.
func (n *Network) Dial(ctx context.Context, pod *corev1.Pod, network, target string) (net.Conn, error) {
	if network != "tcp" && network != "tcp4" {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("the simulated pod network carries TCP only")}
	}
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	// A real node decides in its kernel, at once; the simulation reads the
	// API to decide, which on a loaded machine can take seconds. Those
	// seconds must not count against the pod's dial deadline: an expired
	// deadline would read as a dropped connection, i.e. "blocked". (The
	// connection itself goes to a loopback listener, at once.)
	sim, cancel := context.WithTimeout(context.WithoutCancel(ctx), simulationBudget)
	defer cancel()
	if _, ipErr := netip.ParseAddr(host); ipErr != nil {
		if err := n.dnsAllowed(sim, pod); err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: err.Error(), Name: host,
				Server: DNSServiceIP + ":53", IsTimeout: true, UnwrapErr: err}}
		}
	}
	d, err := n.Resolve(sim, pod, target)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	addr := tcpAddr(d.Addr)
	if d.Loopback {
		if n.PodLoopback != nil {
			if to, ok := n.PodLoopback(pod, d.Port); ok {
				return n.dial(sim, to)
			}
		}
		return nil, refused(network, addr)
	}
	dec, err := n.Decide(sim, pod, d)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: addr, Err: err}
	}
	if !dec.Allowed {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: addr, Err: &Dropped{Decision: dec, ByPlatform: n.blackholed(pod, d)}}
	}
	if d.NoEndpoints {
		return nil, refused(network, addr)
	}
	key := d.Addr
	if d.Backend != "" {
		key = d.Backend
	}
	listener, ok := n.Backends[key]
	if !ok {
		return nil, refused(network, addr)
	}
	return n.dial(sim, listener)
}

func (n *Network) dial(ctx context.Context, addr string) (net.Conn, error) {
	dial := n.Dialer
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	return dial(ctx, "tcp", addr)
}

func refused(network string, addr net.Addr) error {
	return &net.OpError{Op: "dial", Net: network, Addr: addr, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
}

func tcpAddr(hostport string) net.Addr {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return nil
	}
	return net.TCPAddrFromAddrPort(ap)
}

func (n *Network) blackholed(pod *corev1.Pod, d Destination) bool {
	return n.Blackhole != nil && n.Blackhole(pod, d)
}

// Decide is the policy verdict on pod connecting to d: the pod's egress
// and, for a pod destination, that pod's ingress.
func (n *Network) Decide(ctx context.Context, pod *corev1.Pod, d Destination) (netpol.Decision, error) {
	if n.blackholed(pod, d) {
		return netpol.Decision{Direction: "egress", Reason: fmt.Sprintf("dial tcp %s: i/o timeout (connection timed out)", d.Addr)}, nil
	}
	if n.Unenforced || n.UnenforcedFor != nil && n.UnenforcedFor(pod) {
		return netpol.Decision{Allowed: true, Direction: "egress", Reason: "NetworkPolicies are not enforced"}, nil
	}
	namespaces := []string{ns(pod)}
	if d.Peer.IsPod && d.Peer.Namespace != ns(pod) {
		namespaces = append(namespaces, d.Peer.Namespace)
	}
	var all []networkingv1.NetworkPolicy
	for _, n2 := range namespaces {
		l, err := n.Tenant.NetworkingV1().NetworkPolicies(n2).List(ctx, metav1.ListOptions{})
		if err != nil {
			return netpol.Decision{}, fmt.Errorf("listing NetworkPolicies in %s: %w", n2, err)
		}
		all = append(all, l.Items...)
	}
	ps, err := n.compile(all)
	if err != nil {
		return netpol.Decision{}, fmt.Errorf("tenant NetworkPolicies: %w", err)
	}
	src, err := n.podPeer(ctx, pod)
	if err != nil {
		return netpol.Decision{}, err
	}
	return ps.Allowed(netpol.Traffic{Source: src, Dest: d.Peer, Port: d.Port, Protocol: corev1.ProtocolTCP}), nil
}

// dnsAllowed checks that the pod may send DNS queries to kube-dns
// (UDP 53); a pod isolated without a DNS rule cannot resolve names.
func (n *Network) dnsAllowed(ctx context.Context, pod *corev1.Pod) error {
	if n.Unenforced || n.UnenforcedFor != nil && n.UnenforcedFor(pod) || pod.Spec.HostNetwork {
		return nil
	}
	dnsIP := netip.MustParseAddr(DNSServiceIP)
	nsl, err := n.namespaceLabels(ctx, "kube-system")
	if err != nil {
		return err
	}
	d := Destination{Addr: DNSServiceIP + ":53", Port: 53, Service: "kube-system/kube-dns",
		Peer: netpol.Peer{IsPod: true, Namespace: "kube-system", Name: "", PodLabels: map[string]string{"k8s-app": "kube-dns"}, NamespaceLabels: nsl, IP: dnsIP}}
	l, err := n.Tenant.NetworkingV1().NetworkPolicies(ns(pod)).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing NetworkPolicies in %s: %w", ns(pod), err)
	}
	ps, err := n.compile(l.Items)
	if err != nil {
		return fmt.Errorf("tenant NetworkPolicies: %w", err)
	}
	src, err := n.podPeer(ctx, pod)
	if err != nil {
		return err
	}
	dec := ps.Egress(netpol.Traffic{Source: src, Dest: d.Peer, Port: 53, Protocol: corev1.ProtocolUDP})
	if !dec.Allowed {
		return &dnsDropped{dec}
	}
	return nil
}

// compile compiles the policies as this network reads them.
func (n *Network) compile(nps []networkingv1.NetworkPolicy) (*netpol.Policies, error) {
	if n.Rewrite != nil {
		nps = n.Rewrite(nps)
	}
	return netpol.Compile(nps)
}

type dnsDropped struct{ d netpol.Decision }

func (e *dnsDropped) Error() string   { return "read udp: i/o timeout" }
func (e *dnsDropped) Explain() string { return "NetworkPolicy: " + e.d.Reason }

// podPeer is the sending end. A hostNetwork pod sends from its node's
// address in the node's network namespace: no NetworkPolicy selects it
// (policies select pods by their pod network; Kubernetes leaves host-network
// traffic to the cluster's node firewall), so it is an outside address.
func (n *Network) podPeer(ctx context.Context, pod *corev1.Pod) (netpol.Peer, error) {
	if pod.Spec.HostNetwork {
		ip, _ := netip.ParseAddr(pod.Status.PodIP)
		return netpol.External(ip), nil
	}
	nsl, err := n.namespaceLabels(ctx, ns(pod))
	if err != nil {
		return netpol.Peer{}, err
	}
	return netpol.FromPod(pod, nsl), nil
}

func (n *Network) namespaceLabels(ctx context.Context, name string) (map[string]string, error) {
	o, err := n.Tenant.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", name, err)
	}
	return o.Labels, nil
}

func ns(pod *corev1.Pod) string {
	if pod.Namespace == "" {
		return "default"
	}
	return pod.Namespace
}

// Resolve turns host:port into a Destination the way the pod's node would:
// Service names (name, name.ns, name.ns.svc[.cluster.local]) and
// ClusterIPs go to the Service's first ready endpoint; pod IPs and
// endpoint IPs are those pods; other addresses are outside the cluster.
func (n *Network) Resolve(ctx context.Context, pod *corev1.Pod, target string) (Destination, error) {
	host, portStr, err := net.SplitHostPort(target)
	if err != nil {
		return Destination{}, err
	}
	p, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || p == 0 {
		return Destination{}, fmt.Errorf("invalid port %q", portStr)
	}
	port := int32(p)
	if ip, err := netip.ParseAddr(host); err == nil {
		return n.resolveIP(ctx, target, ip, port)
	}
	svcNS, svcName, ok := serviceName(host, ns(pod))
	if !ok {
		return Destination{}, &net.DNSError{Err: "no such host", Name: host, Server: DNSServiceIP + ":53", IsNotFound: true}
	}
	svc, err := n.Tenant.CoreV1().Services(svcNS).Get(ctx, svcName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Destination{}, &net.DNSError{Err: "no such host", Name: host, Server: DNSServiceIP + ":53", IsNotFound: true}
	}
	if err != nil {
		return Destination{}, err
	}
	return n.viaService(ctx, target, svc, port)
}

// serviceName parses the names cluster DNS answers for Services.
func serviceName(host, podNS string) (namespace, name string, ok bool) {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	h = strings.TrimSuffix(h, "."+ClusterDomain)
	h = strings.TrimSuffix(h, ".svc")
	parts := strings.Split(h, ".")
	switch len(parts) {
	case 1:
		return podNS, parts[0], parts[0] != ""
	case 2:
		return parts[1], parts[0], parts[0] != "" && parts[1] != ""
	}
	return "", "", false
}

func (n *Network) resolveIP(ctx context.Context, target string, ip netip.Addr, port int32) (Destination, error) {
	d := Destination{Target: target, Addr: netip.AddrPortFrom(ip, uint16(port)).String(), Port: port, Peer: netpol.External(ip)}
	if ip.IsLoopback() {
		d.Loopback = true
		return d, nil
	}
	svcs, err := n.Tenant.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return d, err
	}
	for i := range svcs.Items {
		s := &svcs.Items[i]
		for _, cip := range append([]string{s.Spec.ClusterIP}, s.Spec.ClusterIPs...) {
			if cip == ip.String() {
				return n.viaService(ctx, target, s, port)
			}
		}
	}
	pods, err := n.Tenant.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "status.podIP=" + ip.String()})
	if err != nil {
		return d, err
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Status.PodIP != ip.String() || p.Spec.HostNetwork || p.DeletionTimestamp != nil {
			continue
		}
		nsl, err := n.namespaceLabels(ctx, p.Namespace)
		if err != nil {
			return d, err
		}
		d.Peer = netpol.FromPod(p, nsl)
		return d, nil
	}
	// An endpoint address that belongs to no pod object (the simulated
	// platform's own services): the pods its Service selects.
	slices, err := n.Tenant.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return d, err
	}
	for _, sl := range slices.Items {
		for _, ep := range sl.Endpoints {
			for _, a := range ep.Addresses {
				if a != ip.String() {
					continue
				}
				svc, err := n.Tenant.CoreV1().Services(sl.Namespace).Get(ctx, sl.Labels[discoveryv1.LabelServiceName], metav1.GetOptions{})
				if err != nil || len(svc.Spec.Selector) == 0 {
					continue
				}
				peer, err := n.backendPeer(ctx, svc, ep, sl.Ports, ip)
				if err != nil {
					return d, err
				}
				d.Peer = peer
				return d, nil
			}
		}
	}
	return d, nil
}

// viaService sends the connection to the Service's first ready endpoint on
// the matching port, as kube-proxy would (a ClusterIP is never the peer
// policies see: they see the endpoint after translation).
func (n *Network) viaService(ctx context.Context, target string, svc *corev1.Service, port int32) (Destination, error) {
	ref := svc.Namespace + "/" + svc.Name
	d := Destination{Target: target, Service: ref, Port: port}
	clusterIP := svc.Spec.ClusterIP
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Port == port {
			sp = &svc.Spec.Ports[i]
		}
	}
	if ip, err := netip.ParseAddr(clusterIP); err == nil {
		d.Addr = netip.AddrPortFrom(ip, uint16(port)).String()
		d.Peer = netpol.External(ip)
	} else {
		d.Addr = net.JoinHostPort(svc.Name+"."+svc.Namespace+".svc", strconv.Itoa(int(port)))
	}
	if sp == nil {
		d.NoEndpoints = true
		return d, nil
	}
	slices, err := n.Tenant.DiscoveryV1().EndpointSlices(svc.Namespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc.Name})
	if err != nil {
		return d, err
	}
	for _, sl := range slices.Items {
		epPort, ok := matchPort(sl.Ports, sp)
		if !ok {
			continue
		}
		for _, ep := range sl.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready || len(ep.Addresses) == 0 {
				continue
			}
			ip, err := netip.ParseAddr(ep.Addresses[0])
			if err != nil {
				continue
			}
			peer, err := n.backendPeer(ctx, svc, ep, sl.Ports, ip)
			if err != nil {
				return d, err
			}
			d.Peer, d.Port = peer, epPort
			d.Backend = netip.AddrPortFrom(ip, uint16(epPort)).String()
			return d, nil
		}
	}
	d.NoEndpoints = true
	return d, nil
}

func matchPort(ports []discoveryv1.EndpointPort, sp *corev1.ServicePort) (int32, bool) {
	for _, p := range ports {
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		if name == sp.Name && p.Port != nil {
			return *p.Port, true
		}
	}
	return 0, false
}

// backendPeer is the pod behind an endpoint: the Pod object it refers to,
// else a pod carrying the Service's selector labels, else an outside address.
func (n *Network) backendPeer(ctx context.Context, svc *corev1.Service, ep discoveryv1.Endpoint, ports []discoveryv1.EndpointPort, ip netip.Addr) (netpol.Peer, error) {
	if ref := ep.TargetRef; ref != nil && ref.Kind == "Pod" {
		p, err := n.Tenant.CoreV1().Pods(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err == nil {
			nsl, err := n.namespaceLabels(ctx, p.Namespace)
			if err != nil {
				return netpol.Peer{}, err
			}
			return netpol.FromPod(p, nsl), nil
		}
	}
	if len(svc.Spec.Selector) == 0 {
		return netpol.External(ip), nil
	}
	nsl, err := n.namespaceLabels(ctx, svc.Namespace)
	if err != nil {
		return netpol.Peer{}, err
	}
	peer := netpol.Peer{IsPod: true, Namespace: svc.Namespace, PodLabels: svc.Spec.Selector, NamespaceLabels: nsl, IP: ip}
	for _, p := range ports {
		if p.Name != nil && *p.Name != "" && p.Port != nil {
			proto := corev1.ProtocolTCP
			if p.Protocol != nil {
				proto = *p.Protocol
			}
			peer.ContainerPorts = append(peer.ContainerPorts, corev1.ContainerPort{Name: *p.Name, ContainerPort: *p.Port, Protocol: proto})
		}
	}
	return peer, nil
}

// Explain returns the simulator's diagnosis carried by a dial error, if any.
func Explain(err error) string {
	var ex interface{ Explain() string }
	if errors.As(err, &ex) {
		return ex.Explain()
	}
	return ""
}
