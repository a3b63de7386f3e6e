// Package faults is the catalogue of named faults the simulated platform can
// be started with. A fault is a switch inside a simulator, never a branch in
// a spec: it makes the platform misbehave the way a broken real platform
// would, so the suites can prove that each check can fail.
package faults

import (
	"fmt"
	"sort"
	"strings"
)

// Fault is one named misbehaviour.
type Fault struct {
	Name        string
	Component   string // the simulator that implements it
	Description string
}

// Names of every fault, for the simulators' switches.
const (
	SyncIgnoresSelector       = "sync-ignores-selector"
	SyncKeepsUnmatched        = "sync-keeps-unmatched"
	SyncDeletesControlledBy   = "sync-deletes-controlled-by"
	GateAdmitsUnattested      = "gate-admits-unattested"
	TamperedQuote             = "tampered-quote"
	DebugTD                   = "debug-td"
	SNPDebugPolicy            = "snp-debug-policy"
	WrongMeasurement          = "wrong-measurement"
	AutoNodesWrongType        = "autonodes-wrong-type"
	AutoNodesIgnoresOperator  = "autonodes-ignores-operator"
	PropertiesNotLabelled     = "properties-not-labelled"
	NodeSharedAcrossTenants   = "node-shared-across-tenants"
	KataHandlerMissing        = "kata-handler-missing"
	VNodeHandlerMissing       = "vnode-handler-missing"
	VNodeKataConflict         = "vnode-kata-conflict"
	PodAttestationSkipped     = "pod-attestation-skipped"
	EgressDenied              = "egress-denied"
	AttestationServiceDown    = "attestation-service-down"
	AttestationServiceAccepts = "attestation-service-accepts-all"
	ProbeEvidenceReplayed     = "probe-evidence-replayed"
	PodVerdictReused          = "pod-verdict-reused"
)

var catalogue = []Fault{
	{SyncIgnoresSelector, "vcluster", "RuntimeClass sync copies every host class, ignoring sync.fromHost.runtimeClasses.selector"},
	{SyncKeepsUnmatched, "vcluster", "RuntimeClass sync keeps tenant copies whose host class was deleted or no longer matches"},
	{SyncDeletesControlledBy, "vcluster", "RuntimeClass sync deletes tenant classes labelled vcluster.loft.sh/controlled-by"},
	{GateAdmitsUnattested, "platform", "the node-join gate joins machines whose evidence fails verification (or that have none)"},
	{TamperedQuote, "tee", "every TEE machine's evidence has a flipped byte in its signed body"},
	{DebugTD, "tee", "TDX machines boot as debug TDs (TD attributes DEBUG bit set)"},
	{SNPDebugPolicy, "tee", "SEV-SNP machines boot with the guest policy DEBUG bit set"},
	{WrongMeasurement, "tee", "TEE machines report a measurement (MRTD / MEASUREMENT) outside the policy's allowlist"},
	{AutoNodesWrongType, "platform", "auto nodes provisions the most expensive matching node type instead of the cheapest"},
	{AutoNodesIgnoresOperator, "platform", "auto nodes treats every nodeTypeSelector operator as In"},
	{PropertiesNotLabelled, "platform", "joined nodes do not carry their node type's properties as labels"},
	{NodeSharedAcrossTenants, "platform", "a machine already joined to one tenant is joined to another tenant too"},
	{KataHandlerMissing, "node", "node images lack the Kata TEE runtime handlers (kata-qemu-tdx, kata-qemu-snp)"},
	{VNodeHandlerMissing, "node", "node images lack the vnode runtime handler"},
	{VNodeKataConflict, "node", "the vnode and Kata handlers cannot run pods side by side on one node"},
	{PodAttestationSkipped, "node", "Kata TEE pods start without producing or verifying evidence"},
	{EgressDenied, "node", "pods on confidential nodes cannot reach the attestation service whatever the NetworkPolicies say"},
	{AttestationServiceDown, "attestation", "the attestation service does not answer"},
	{AttestationServiceAccepts, "attestation", "the attestation service returns a passing verdict for any evidence"},
	{ProbeEvidenceReplayed, "tee", "devices return evidence minted for an earlier nonce (replay)"},
	{PodVerdictReused, "attestation", "the Kata runtime starts every pod on the first passing verdict it got, not on one bound to that pod"},
}

// All returns the catalogue, sorted by name.
func All() []Fault {
	out := append([]Fault(nil), catalogue...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the fault with that name.
func Lookup(name string) (Fault, bool) {
	for _, f := range catalogue {
		if f.Name == name {
			return f, true
		}
	}
	return Fault{}, false
}

// Set is the faults a platform was started with. The zero value has none.
type Set map[string]bool

// Parse checks names against the catalogue.
func Parse(names ...string) (Set, error) {
	s := Set{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if _, ok := Lookup(n); !ok {
			known := make([]string, 0, len(catalogue))
			for _, f := range All() {
				known = append(known, f.Name)
			}
			return nil, fmt.Errorf("unknown fault %q; known faults: %s (see `cctest faults`)", n, strings.Join(known, ", "))
		}
		s[n] = true
	}
	return s, nil
}

// Has reports whether the fault is on. Safe on a nil Set.
func (s Set) Has(name string) bool { return s[name] }

// Names lists the faults that are on, sorted.
func (s Set) Names() []string {
	out := make([]string, 0, len(s))
	for n := range s {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
