// Package certify runs the static checks a platform team needs before
// publishing a confidential node type: the NodeProvider, the tenant's
// vcluster.yaml, RuntimeClasses, workloads, NetworkPolicies and attestation
// policies are read strictly and checked against vCluster's rules and the
// confidential-compute reference architecture. Each Finding has a stable
// check ID, a severity, the file and YAML path it concerns and a fix hint.
//
// Conventions certify defines (vCluster has no standard for them):
//
//   - A node type is confidential when it has the property
//     `confidential-compute` (tdx or sev-snp); see api/management/v1.
//   - Its path is "cloud-vm" (provider Confidential VM: the whole node is the
//     TEE, pods must NOT set runtimeClassName) or "pod-runtime" (Kata /
//     Confidential Containers: pods MUST set runtimeClassName). metal3 and
//     bcm types are pod-runtime; terraform, clusterAPI and kubeVirt types that
//     name a cloud instance type (node.kubernetes.io/instance-type property)
//     are cloud-vm; `cctest.dev/confidential-path` overrides.
//   - Cloud Confidential VM types carry their zone in
//     topology.kubernetes.io/zone and their host maintenance policy in
//     `cctest.dev/on-host-maintenance` (MIGRATE or TERMINATE).
//   - The attestation service is given by --attestation-service: either
//     NAMESPACE/NAME:PORT, an in-cluster Service whose pods are labelled
//     app.kubernetes.io/name=NAME (default cctest-system/attestation:8443),
//     or IP:PORT, a verifier outside the cluster (matched by ipBlock rules).
//   - Without --simulation, attestation policies must trust vendor roots
//     only; the simulated test PKI is an error.
package certify
