package netpol

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Peer is one end of a connection: a pod, or an address outside any pod.
type Peer struct {
	// IsPod says the peer is a pod; only pods are selected by policies and
	// matched by podSelector / namespaceSelector peers.
	IsPod bool
	// Namespace and Name of the pod ("" namespace = "default"). Name is only
	// used in messages.
	Namespace, Name string
	// PodLabels and NamespaceLabels are the pod's and its namespace's labels.
	PodLabels, NamespaceLabels map[string]string
	// IP is matched by ipBlock peers; may be invalid (zero) for a pod whose IP
	// is not known, which then matches no ipBlock.
	IP netip.Addr
	// ContainerPorts are the pod's declared ports; they resolve named ports
	// in rules when this peer is the destination.
	ContainerPorts []corev1.ContainerPort
}

// Traffic is one connection attempt from Source to Dest on Dest's Port.
type Traffic struct {
	Source, Dest Peer
	Port         int32
	Protocol     corev1.Protocol // "" = TCP
}

// FromPod describes a pod as a Peer. namespaceLabels are the labels of the
// pod's Namespace object (kubernetes.io/metadata.name is added regardless).
func FromPod(pod *corev1.Pod, namespaceLabels map[string]string) Peer {
	p := Peer{
		IsPod:           true,
		Namespace:       pod.Namespace,
		Name:            pod.Name,
		PodLabels:       pod.Labels,
		NamespaceLabels: namespaceLabels,
	}
	if ip, err := netip.ParseAddr(pod.Status.PodIP); err == nil {
		p.IP = ip
	}
	for _, c := range pod.Spec.InitContainers {
		p.ContainerPorts = append(p.ContainerPorts, c.Ports...)
	}
	for _, c := range pod.Spec.Containers {
		p.ContainerPorts = append(p.ContainerPorts, c.Ports...)
	}
	return p
}

// External describes an address that is not a pod (a service outside the
// cluster, a node, a load balancer).
func External(ip netip.Addr) Peer { return Peer{IP: ip} }

func (p Peer) namespace() string {
	if p.Namespace == "" {
		return "default"
	}
	return p.Namespace
}

// String names the peer for messages: "pod tenant/app (10.0.0.3)",
// "pod in namespace tenant with labels app=web", or "10.0.0.5".
func (p Peer) String() string {
	if !p.IsPod {
		if !p.IP.IsValid() {
			return "unknown address"
		}
		return p.IP.String()
	}
	var b strings.Builder
	if p.Name != "" {
		fmt.Fprintf(&b, "pod %s/%s", p.namespace(), p.Name)
	} else {
		fmt.Fprintf(&b, "pod in namespace %s with labels %s", p.namespace(), labelString(p.PodLabels))
	}
	if p.IP.IsValid() {
		fmt.Fprintf(&b, " (%s)", p.IP)
	}
	return b.String()
}

// labelString renders labels sorted, "(none)" when empty.
func labelString(m map[string]string) string {
	if len(m) == 0 {
		return "(none)"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + m[k]
	}
	return strings.Join(keys, ",")
}

func (t Traffic) protocol() corev1.Protocol {
	if t.Protocol == "" {
		return corev1.ProtocolTCP
	}
	return t.Protocol
}

// nsLabels presents a namespace's labels plus the kubernetes.io/metadata.name
// label the API server always sets, without copying the map.
type nsLabels struct {
	name string
	m    map[string]string
}

const nsNameLabel = corev1.LabelMetadataName // "kubernetes.io/metadata.name"

func (l nsLabels) Has(key string) bool {
	if key == nsNameLabel {
		return true
	}
	_, ok := l.m[key]
	return ok
}

func (l nsLabels) Get(key string) string {
	if key == nsNameLabel {
		if v, ok := l.m[key]; ok {
			return v
		}
		return l.name
	}
	return l.m[key]
}

// Lookup completes labels.Labels.
func (l nsLabels) Lookup(key string) (string, bool) {
	if !l.Has(key) {
		return "", false
	}
	return l.Get(key), true
}
