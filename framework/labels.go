package framework

import (
	"sort"

	"github.com/onsi/ginkgo/v2"
)

// The frozen label registry. A spec may only use these; adding one is a
// deliberate change here (and in the README's label table).
var registry = map[string]string{
	"runtimeclass-sync": "RuntimeClass sync from host into the tenant (and its limits)",
	"auto-nodes":        "auto nodes pick and join the right node type",
	"scheduling":        "confidential pods land only on confidential nodes",
	"attestation":       "no node joins and no workload starts without verified evidence",
	"vnode-kata":        "vNode and Kata runtime classes coexist on one node",
	"egress":            "confidential nodes reach the attestation service, nothing else",
	"tenancy":           "no node is shared between tenants",
	"cloud-vm":          "cloud Confidential VM nodes: the node VM is the TEE, gated before it joins",
	"node-types":        "every published confidential node type is exercised",
	"path:cvm":          "the cloud Confidential VM path: the node VM is the TEE (cctest run --path cvm)",
	"path:pod":          "the pod-level path: each Kata pod is a TEE guest on a bare-metal host (cctest run --path pod)",
	"tee:tdx":           "needs Intel TDX nodes",
	"tee:snp":           "needs AMD SEV-SNP nodes",
	"hardware":          "meaningful only on real TEE hardware",
	"host-access":       "reads the host cluster (NodeClaims, inventory)",
	"disruptive":        "changes shared state (e.g. deletes host RuntimeClasses)",
	"slow":              "takes longer than a minute on real clusters",
}

// KnownLabels lists the registry, sorted.
func KnownLabels() []string {
	out := make([]string, 0, len(registry))
	for l := range registry {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// LabelHelp describes a label.
func LabelHelp(l string) string { return registry[l] }

// Label returns Ginkgo labels, panicking on an unknown one: the suite then
// fails to build, which is what a frozen registry means.
func Label(labels ...string) ginkgo.Labels {
	checkLabels(labels)
	return ginkgo.Label(labels...)
}
