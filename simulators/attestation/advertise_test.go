package attestation

import (
	"context"
	"strings"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/cctest/cctest/attest/client"
)

func TestInClusterURLFollowsTheNames(t *testing.T) {
	if want := "https://" + ServiceName + "." + Namespace + ".svc:8443"; InClusterURL != want {
		t.Errorf("InClusterURL %s, want %s", InClusterURL, want)
	}
}

func TestAdvertiseAndDiscover(t *testing.T) {
	s, _ := startService(t, Config{})
	c := fake.NewClientset()
	ctx := context.Background()
	if _, err := Discover(ctx, c); err == nil || !strings.Contains(err.Error(), "cctest-system/attestation-service") {
		t.Errorf("discover before advertise: %v", err)
	}
	for i := 0; i < 2; i++ { // idempotent
		if err := Advertise(ctx, c, s); err != nil {
			t.Fatal(err)
		}
	}
	svc, err := c.CoreV1().Services(Namespace).Get(ctx, ServiceName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Ports[0].Port != 8443 || svc.Spec.Selector[AppLabel] != AppValue {
		t.Errorf("service %+v", svc.Spec)
	}
	slices, err := c.DiscoveryV1().EndpointSlices(Namespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + ServiceName})
	if err != nil || len(slices.Items) != 1 {
		t.Fatalf("endpoint slices: %v %v", slices, err)
	}
	sl := slices.Items[0]
	if sl.Endpoints[0].Addresses[0] != EndpointIP || *sl.Ports[0].Port != 8443 {
		t.Errorf("slice %+v", sl)
	}
	d, err := Discover(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if d.URL != InClusterURL || d.ExternalURL != s.URL() || d.Service != "cctest-system/attestation:8443" || len(d.CAPEM) == 0 {
		t.Errorf("discovered %+v", d)
	}
	// What a spec outside the cluster does with it.
	cl, err := client.New(d.ExternalURL, client.Options{CAPEM: d.CAPEM})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Challenge(ctx, ""); err != nil {
		t.Error(err)
	}
}
