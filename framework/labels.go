package framework

import (
	"fmt"
	"sort"
	"strings"
	"sync"

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
	"node-types":        "every published confidential node type is exercised",
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
	for _, l := range labels {
		if _, ok := registry[l]; !ok {
			panic(fmt.Sprintf("framework: unknown label %q (known: %s)", l, strings.Join(KnownLabels(), ", ")))
		}
	}
	return ginkgo.Label(labels...)
}

var (
	specMu    sync.Mutex
	specNames = map[string]string{}
)

// Spec registers a spec name and returns it; a duplicate name panics (the
// suite fails to build), so reports and fault detector lists stay unambiguous.
// where is the declaring file, for the message.
func Spec(name, where string) string {
	specMu.Lock()
	defer specMu.Unlock()
	if prev, dup := specNames[name]; dup {
		panic(fmt.Sprintf("framework: duplicate spec name %q (in %s and %s)", name, prev, where))
	}
	specNames[name] = where
	return name
}

// SpecNames lists every registered spec name, sorted.
func SpecNames() []string {
	specMu.Lock()
	defer specMu.Unlock()
	out := make([]string, 0, len(specNames))
	for n := range specNames {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

var (
	detectMu  sync.Mutex
	detectors = map[string][]string{}
)

// Detects declares that the named spec must fail when the platform runs
// with each of the given faults. The harness's mutation check holds the
// suites to it.
func Detects(spec string, faultNames ...string) string {
	detectMu.Lock()
	defer detectMu.Unlock()
	for _, f := range faultNames {
		detectors[f] = append(detectors[f], spec)
	}
	return spec
}

// Detectors returns fault -> the specs that must detect it (sorted).
func Detectors() map[string][]string {
	detectMu.Lock()
	defer detectMu.Unlock()
	out := map[string][]string{}
	for f, specs := range detectors {
		s := append([]string(nil), specs...)
		sort.Strings(s)
		out[f] = s
	}
	return out
}

var collateral = map[string][]string{}

// MayAlsoFail declares specs that can fail under a fault as a consequence,
// depending on where the scheduler places pods (e.g. a Kata pod that lands
// on a machine the faulty gate let in fails its own attestation). The
// mutation check tolerates them; it still requires every detector to fail.
func MayAlsoFail(fault string, specs ...string) {
	detectMu.Lock()
	defer detectMu.Unlock()
	collateral[fault] = append(collateral[fault], specs...)
}

// Collateral returns fault -> specs that may also fail.
func Collateral() map[string][]string {
	detectMu.Lock()
	defer detectMu.Unlock()
	out := map[string][]string{}
	for f, s := range collateral {
		out[f] = append([]string(nil), s...)
	}
	return out
}
