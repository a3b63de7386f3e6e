// Package discovery is how clients find the attestation service in a
// tenant cluster: a ConfigMap cctest-system/attestation-service with the
// service's URLs and CA bundle, next to a Service cctest-system/attestation.
// Specs, probes and the simulated platform share this convention; a real
// platform publishes the same ConfigMap.
package discovery

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Where the attestation service is advertised.
const (
	Namespace     = "cctest-system"
	ServiceName   = "attestation"
	ConfigMapName = "attestation-service"
	Port          = 8443
	// AppLabel=AppValue selects the service's pods (NetworkPolicy peers).
	AppLabel = "app.kubernetes.io/name"
	AppValue = "attestation"
)

// ConfigMap keys.
const (
	KeyURL         = "url"         // in-cluster URL, what pods use
	KeyExternalURL = "externalURL" // URL for clients outside the cluster (specs)
	KeyCA          = "ca.crt"      // PEM bundle the serving certificate chains to
	KeyService     = "service"     // NAMESPACE/NAME:PORT, as `cctest certify --attestation-service` takes it
)

// Discovered is what the ConfigMap says.
type Discovered struct {
	URL, ExternalURL, Service string
	CAPEM                     []byte
}

// Discover reads the ConfigMap, naming what is missing.
func Discover(ctx context.Context, c kubernetes.Interface) (Discovered, error) {
	cm, err := c.CoreV1().ConfigMaps(Namespace).Get(ctx, ConfigMapName, metav1.GetOptions{})
	if err != nil {
		return Discovered{}, fmt.Errorf("attestation service ConfigMap %s/%s: %w", Namespace, ConfigMapName, err)
	}
	d := Discovered{URL: cm.Data[KeyURL], ExternalURL: cm.Data[KeyExternalURL], Service: cm.Data[KeyService], CAPEM: []byte(cm.Data[KeyCA])}
	if d.URL == "" && d.ExternalURL == "" {
		return Discovered{}, fmt.Errorf("attestation service ConfigMap %s/%s: data.%s and data.%s are both empty", Namespace, ConfigMapName, KeyURL, KeyExternalURL)
	}
	return d, nil
}
