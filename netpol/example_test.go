package netpol_test

import (
	"fmt"
	"net/netip"

	"github.com/cctest/cctest/netpol"
)

// A tenant namespace denies all egress except to the attestation service.
func Example() {
	policies, err := netpol.Load("tenant-policies.yaml", []byte(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-egress, namespace: tenant}
spec:
  podSelector: {}
  policyTypes: [Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-attestation, namespace: tenant}
spec:
  podSelector: {matchLabels: {app: workload}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 192.0.2.10/32}}]
    ports: [{port: 8443}]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	pod := netpol.Peer{IsPod: true, Namespace: "tenant", Name: "workload-0",
		PodLabels: map[string]string{"app": "workload"}, IP: netip.MustParseAddr("10.0.0.3")}
	verifier := netpol.External(netip.MustParseAddr("192.0.2.10"))

	for _, port := range []int32{8443, 443} {
		d := policies.Egress(netpol.Traffic{Source: pod, Dest: verifier, Port: port})
		fmt.Println(d.Allowed, d.Reason)
	}
	// Output:
	// true egress from pod tenant/workload-0 (10.0.0.3) to 192.0.2.10 port 8443/TCP allowed by tenant/allow-attestation spec.egress[0]
	// false egress from pod tenant/workload-0 (10.0.0.3) to 192.0.2.10 port 443/TCP denied: pod tenant/workload-0 is isolated for egress by policies tenant/default-deny-egress, tenant/allow-attestation and no egress rule of them allows this destination and port (tenant/allow-attestation spec.egress[0] matches the destination but allows only ports 8443/TCP)
}
