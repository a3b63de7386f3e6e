// Package reports renders a cctest run from its Ginkgo report (the source of
// truth): JUnit XML for CI, one self-contained HTML page for people, and an
// evidence bundle with a sha256 manifest.
//
// Specs attach what the report shows with ginkgo.AddReportEntry: an
// Environment once from a BeforeSuite (EnvironmentEntry) and one Evidence per
// attested node or pod (EvidenceEntry).
package reports

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/cctest/cctest/attest/verifier"
)

// Report entry names the specs use with ginkgo.AddReportEntry.
const (
	EvidenceEntry    = "evidence"
	EnvironmentEntry = "environment"
	// DiagnosticsEntry is what framework.Diagnose attaches to failed specs.
	DiagnosticsEntry = "diagnostics"
)

// legacyEvidencePrefix is the older shape: entry "evidence <node>" whose
// value is a bare verifier.Verdict.
const legacyEvidencePrefix = EvidenceEntry + " "

// Evidence is the attestation evidence of one node or pod and its verdict.
type Evidence struct {
	Subject  string           `json:"subject"`            // node or pod name
	Kind     string           `json:"kind"`               // "node" or "pod"
	NodeType string           `json:"nodeType,omitempty"` // the node type it was provisioned as
	TEE      string           `json:"tee,omitempty"`
	Nonce    string           `json:"nonce,omitempty"` // hex, the verifier's challenge
	Raw      []byte           `json:"raw,omitempty"`   // raw quote / report (base64 in JSON)
	Verdict  verifier.Verdict `json:"verdict"`
}

// String keeps Ginkgo's console output and the report's Representation short
// (the default %+v would print the raw quote byte by byte).
func (e Evidence) String() string {
	res := "FAIL"
	if e.Verdict.Pass {
		res = "PASS"
	}
	s := fmt.Sprintf("%s %s %s", res, e.Kind, e.Subject)
	if e.NodeType != "" {
		s += " (" + e.NodeType + ")"
	}
	if e.TEE != "" {
		s += " " + e.TEE
	}
	if e.Verdict.Reason != "" {
		s += ": " + e.Verdict.Reason
	}
	return s
}

// Environment describes where the run happened. Attach it once, from a
// BeforeSuite.
type Environment struct {
	Kind              string   `json:"kind"` // embedded, existing or kind
	KubernetesVersion string   `json:"kubernetesVersion,omitempty"`
	CctestVersion     string   `json:"cctestVersion,omitempty"`
	TEETypes          []string `json:"teeTypes,omitempty"`
	PolicyName        string   `json:"policyName,omitempty"`
	PolicyYAML        string   `json:"policyYAML,omitempty"`
	Faults            []string `json:"faults,omitempty"`
	// Waivers are skips the user accepted with --waive: spec → reason.
	Waivers map[string]string `json:"waivers,omitempty"`
	Tenant            string   `json:"tenant,omitempty"` // API server URLs
	Host              string   `json:"host,omitempty"`
}

// String keeps the Representation in report.json to one line.
func (e Environment) String() string {
	s := e.Kind + " environment"
	if e.KubernetesVersion != "" {
		s += ", Kubernetes " + e.KubernetesVersion
	}
	if e.CctestVersion != "" {
		s += ", cctest " + e.CctestVersion
	}
	if len(e.TEETypes) > 0 {
		s += ", TEEs " + strings.Join(e.TEETypes, " ")
	}
	if e.PolicyName != "" {
		s += ", policy " + e.PolicyName
	}
	if len(e.Faults) > 0 {
		s += ", faults " + strings.Join(e.Faults, " ")
	}
	return s
}

// EvidenceRecord is one Evidence with the spec that recorded it.
type EvidenceRecord struct {
	Evidence
	Spec       string    `json:"spec"`      // full text of the spec
	SpecState  string    `json:"specState"` // passed, failed, ...
	Location   string    `json:"location,omitempty"`
	RecordedAt time.Time `json:"recordedAt"`
	// Legacy: decoded from an "evidence <node>" entry holding a bare verdict.
	Legacy bool `json:"legacy,omitempty"`
}

// entryJSON is an entry's value as JSON: AsJSON when the report came from
// disk, the marshalled raw value for the in-memory report of a live run
// (Ginkgo fills AsJSON only when it encodes the report).
func entryJSON(e types.ReportEntry) []byte {
	if e.Value.AsJSON != "" {
		return []byte(e.Value.AsJSON)
	}
	b, err := json.Marshal(e.Value.GetRawValue())
	if err != nil {
		return nil
	}
	return b
}

// decodeEvidence reads an evidence entry of either shape.
func decodeEvidence(e types.ReportEntry) (Evidence, bool) {
	switch {
	case e.Name == EvidenceEntry:
		var probe struct {
			Subject *string          `json:"subject"`
			Checks  []verifier.Check `json:"checks"`
		}
		b := entryJSON(e)
		if json.Unmarshal(b, &probe) != nil {
			return Evidence{}, false
		}
		if probe.Subject == nil && probe.Checks != nil { // a bare verdict
			var v verifier.Verdict
			if json.Unmarshal(b, &v) != nil {
				return Evidence{}, false
			}
			return Evidence{Subject: "unnamed", Kind: "node", TEE: v.TEE, Verdict: v}, true
		}
		var ev Evidence
		if json.Unmarshal(b, &ev) != nil {
			return Evidence{}, false
		}
		if ev.TEE == "" {
			ev.TEE = ev.Verdict.TEE
		}
		if ev.Kind == "" {
			ev.Kind = "node"
		}
		return ev, true
	case strings.HasPrefix(e.Name, legacyEvidencePrefix):
		var v verifier.Verdict
		if json.Unmarshal(entryJSON(e), &v) != nil || v.Checks == nil && v.TEE == "" {
			return Evidence{}, false
		}
		return Evidence{Subject: strings.TrimSpace(strings.TrimPrefix(e.Name, legacyEvidencePrefix)), Kind: "node", TEE: v.TEE, Verdict: v}, true
	}
	return Evidence{}, false
}

// EvidenceRecords returns every evidence entry of the report, in run order.
func EvidenceRecords(r types.Report) []EvidenceRecord {
	var out []EvidenceRecord
	walkEvidence(r, func(_ int, rec EvidenceRecord) { out = append(out, rec) })
	return out
}

// walkEvidence calls fn for each evidence entry with the index of its spec.
func walkEvidence(r types.Report, fn func(spec int, rec EvidenceRecord)) {
	for i, s := range r.SpecReports {
		for _, e := range s.ReportEntries {
			ev, ok := decodeEvidence(e)
			if !ok {
				continue
			}
			fn(i, EvidenceRecord{
				Evidence:   ev,
				Spec:       specName(s),
				SpecState:  s.State.String(),
				Location:   relLocation(r.SuitePath, e.Location),
				RecordedAt: e.Time,
				Legacy:     e.Name != EvidenceEntry,
			})
		}
	}
}

// EnvironmentOf returns the run's Environment entry, if a spec attached one.
func EnvironmentOf(r types.Report) (Environment, bool) {
	for _, s := range r.SpecReports {
		for _, e := range s.ReportEntries {
			if e.Name != EnvironmentEntry {
				continue
			}
			var env Environment
			if json.Unmarshal(entryJSON(e), &env) == nil {
				return env, true
			}
		}
	}
	return Environment{}, false
}

// specName is the spec's full text, or "[BeforeSuite]" for setup nodes.
func specName(s types.SpecReport) string {
	if t := s.FullText(); t != "" {
		return t
	}
	return "[" + s.LeafNodeType.String() + "]"
}

// relLocation prints file:line relative to the suite's directory.
func relLocation(suitePath string, l types.CodeLocation) string {
	if l.FileName == "" {
		return ""
	}
	f := l.FileName
	if suitePath != "" && strings.HasPrefix(f, strings.TrimSuffix(suitePath, "/")+"/") {
		f = strings.TrimPrefix(f, strings.TrimSuffix(suitePath, "/")+"/")
	}
	if l.LineNumber > 0 {
		return fmt.Sprintf("%s:%d", f, l.LineNumber)
	}
	return f
}
