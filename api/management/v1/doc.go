// Package v1 holds Go types for the vCluster Platform kinds the harness
// simulates and checks (management.loft.sh/v1 NodeProvider, NodeType,
// NodeClaim, plus a minimal metal3.io/v1alpha1 BareMetalHost), their CRD
// manifests, and the node-type selection rules auto nodes use: requirement
// operators, default cost, cheapest-type choice and the labels a node of a
// type gets.
//
// The types carry json tags only; objects travel through the dynamic client
// as unstructured and are converted with FromUnstructured / ToUnstructured.
// There is no generated deepcopy on purpose: nothing here is registered in a
// scheme.
//
// The property keys the harness itself defines (confidential compute
// technology, cloud maintenance policy, runtime path) live in properties.go so
// the simulators, certify and the suites agree on one spelling.
package v1
