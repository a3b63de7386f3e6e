package attestation

import (
	"context"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/cctest/cctest/attest/discovery"
)

// EndpointIP is the pod IP the simulated service's endpoint is published
// with. The API server rejects loopback addresses in EndpointSlices, so the
// endpoint carries an address outside the simulated nodes' pod ranges
// (10.1.0.0 and up) and the simulated pod network (simulators/podnet) maps
// it onto the loopback listener.
const EndpointIP = "10.0.200.10"

// ConfigMap keys (the convention lives in attest/discovery).
const (
	KeyURL         = discovery.KeyURL
	KeyExternalURL = discovery.KeyExternalURL
	KeyCA          = discovery.KeyCA
	KeyService     = discovery.KeyService
)

// Labels on everything Advertise creates.
var managedLabels = map[string]string{
	AppLabel:                       AppValue,
	"app.kubernetes.io/managed-by": "cctest",
}

// EndpointSliceManager is the managed-by value of the service's
// EndpointSlice; the EndpointSlice controller leaves such slices alone.
const EndpointSliceManager = "attestation-simulator.cctest.dev"

// Advertise publishes the service in a cluster the way a platform would: the
// namespace cctest-system, a Service "attestation" (port 8443, selecting the
// service's pods by app.kubernetes.io/name=attestation), an EndpointSlice
// with the service's endpoint, and a ConfigMap "attestation-service" with
// the URLs and the CA bundle. It updates what already exists.
func Advertise(ctx context.Context, c kubernetes.Interface, s *Service) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace, Labels: map[string]string{"app.kubernetes.io/managed-by": "cctest"}}}
	if _, err := c.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("advertise attestation service: namespace %s: %w", Namespace, err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: ServiceName, Namespace: Namespace, Labels: managedLabels},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{AppLabel: AppValue},
			Ports: []corev1.ServicePort{{Name: PortName, Port: Port, Protocol: corev1.ProtocolTCP,
				TargetPort: intstr.FromInt32(Port)}},
		},
	}
	created, err := c.CoreV1().Services(Namespace).Create(ctx, svc, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = c.CoreV1().Services(Namespace).Get(ctx, ServiceName, metav1.GetOptions{})
	}
	if err != nil {
		return fmt.Errorf("advertise attestation service: Service %s/%s: %w", Namespace, ServiceName, err)
	}
	ready := true
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: ServiceName + "-cctest", Namespace: Namespace,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: ServiceName,
				discoveryv1.LabelManagedBy:   EndpointSliceManager,
			},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: created.Name, UID: created.UID}},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{EndpointIP},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
		}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr(PortName), Port: ptr(int32(Port)), Protocol: ptr(corev1.ProtocolTCP)}},
	}
	if err := upsertSlice(ctx, c, slice); err != nil {
		return fmt.Errorf("advertise attestation service: EndpointSlice %s/%s: %w", Namespace, slice.Name, err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Namespace: Namespace, Labels: managedLabels},
		Data: map[string]string{
			KeyURL:         InClusterURL,
			KeyExternalURL: s.URL(),
			KeyService:     Namespace + "/" + ServiceName + ":" + strconv.Itoa(Port),
		},
	}
	if len(s.CAPEM()) > 0 {
		cm.Data[KeyCA] = string(s.CAPEM())
	}
	if _, err := c.CoreV1().ConfigMaps(Namespace).Create(ctx, cm, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
		_, err = c.CoreV1().ConfigMaps(Namespace).Update(ctx, cm, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("advertise attestation service: ConfigMap %s/%s: %w", Namespace, ConfigMapName, err)
		}
	} else if err != nil {
		return fmt.Errorf("advertise attestation service: ConfigMap %s/%s: %w", Namespace, ConfigMapName, err)
	}
	return nil
}

func upsertSlice(ctx context.Context, c kubernetes.Interface, s *discoveryv1.EndpointSlice) error {
	_, err := c.DiscoveryV1().EndpointSlices(Namespace).Create(ctx, s, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	old, err := c.DiscoveryV1().EndpointSlices(Namespace).Get(ctx, s.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	s.ResourceVersion = old.ResourceVersion
	_, err = c.DiscoveryV1().EndpointSlices(Namespace).Update(ctx, s, metav1.UpdateOptions{})
	return err
}

func ptr[T any](v T) *T { return &v }

// Discovered is what the ConfigMap says.
type Discovered = discovery.Discovered

// Discover reads the ConfigMap Advertise wrote.
func Discover(ctx context.Context, c kubernetes.Interface) (Discovered, error) {
	return discovery.Discover(ctx, c)
}
