package framework

import (
	"fmt"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/onsi/ginkgo/v2"
)

// Spec is one spec, declared once in its own file: what it checks, its
// labels, the seed checklist item it covers and the faults that must make it
// fail. The body is attached with It inside the spec's Describe.
type Spec struct {
	// Name is the spec's text; unique across the suites.
	Name string
	// Labels are the spec's own labels (its Describe adds the container's).
	Labels []string
	// Checklist is the seed checklist item the spec covers.
	Checklist Checklist
	// BrokenBy are the faults under which this spec must fail; a pair of
	// faults switched on together is written Pair(a, b).
	BrokenBy []string
	// FailsWith is what the spec must report under the faults in BrokenBy:
	// a regular expression its failure message must match. The mutation
	// check counts a failure only when it comes from the spec's own body,
	// is not a timeout, and says this. FailsWithUnder overrides it for one
	// fault (or pair).
	FailsWith      string
	FailsWithUnder map[string]string
	// WaitsFor are the faults of BrokenBy this spec detects through its own
	// bounded wait for something the platform must do in time (a synced
	// copy that never follows its host class): only under these does the
	// mutation check accept a timeout as the spec's failure.
	WaitsFor []string
	// MayAlsoFailUnder are faults under which the spec can fail as a
	// consequence, depending on where pods land (e.g. a Kata pod on a
	// machine a faulty gate let in). The mutation check tolerates them.
	MayAlsoFailUnder []string
	// Needs are inputs the spec cannot do without; a run that lacks one
	// stops before any spec (or, with --allow-missing, skips the spec).
	Needs []Need

	where string
}

var (
	specMu sync.Mutex
	specs  = map[string]*Spec{}
)

// Declare registers a spec. An unknown label or a name declared twice
// panics, so the suite fails to build naming the problem.
func Declare(s Spec) *Spec {
	_, file, line, _ := runtime.Caller(1)
	s.where = fmt.Sprintf("%s:%d", filepath.Base(file), line)
	if s.Name == "" {
		panic("framework: a spec without a name at " + s.where)
	}
	if s.Checklist == "" {
		panic(fmt.Sprintf("framework: spec %q (%s) names no seed checklist item", s.Name, s.where))
	}
	checkLabels(s.Labels)
	specMu.Lock()
	defer specMu.Unlock()
	if prev, dup := specs[s.Name]; dup {
		panic(fmt.Sprintf("framework: duplicate spec name %q (in %s and %s)", s.Name, prev.where, s.where))
	}
	specs[s.Name] = &s
	return &s
}

// It adds the spec to the enclosing Describe.
func (s *Spec) It(body func(ginkgo.SpecContext), decorators ...any) bool {
	// Offset(1): failures point at the spec's own file, not here.
	args := append([]any{ginkgo.Label(s.Labels...), ginkgo.Offset(1)}, decorators...)
	return ginkgo.It(s.Name, append(args, body)...)
}

// Expected is the regular expression the spec's failure message must match
// under a fault (or pair) of its BrokenBy ("" = none declared).
func (s *Spec) Expected(fault string) string {
	if m, ok := s.FailsWithUnder[fault]; ok {
		return m
	}
	return s.FailsWith
}

// Pair names two faults switched on together, for BrokenBy: a spec whose
// own check only a second fault can reach (a debug TD the gate would have
// refused, let in by a gate that admits anything) names the pair.
func Pair(a, b string) string { return a + PairSep + b }

// PairSep joins the faults of a pair.
const PairSep = "+"

// Where is the file:line that declares the spec.
func (s *Spec) Where() string { return s.where }

// Specs lists every declared spec, sorted by name.
func Specs() []Spec {
	specMu.Lock()
	defer specMu.Unlock()
	out := make([]Spec, 0, len(specs))
	for _, s := range specs {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SpecNames lists every declared spec name, sorted.
func SpecNames() []string {
	var out []string
	for _, s := range Specs() {
		out = append(out, s.Name)
	}
	return out
}

// Detectors returns fault -> the specs that must fail under it (sorted).
func Detectors() map[string][]string { return byFault(func(s Spec) []string { return s.BrokenBy }) }

// FaultKeys lists the faults and fault pairs some spec must fail under,
// sorted: what the mutation check runs.
func FaultKeys() []string {
	var out []string
	for k := range Detectors() {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Collateral returns fault -> the specs that may also fail under it.
func Collateral() map[string][]string {
	return byFault(func(s Spec) []string { return s.MayAlsoFailUnder })
}

// byFault inverts one fault list of the declarations: fault -> spec names.
func byFault(faults func(Spec) []string) map[string][]string {
	out := map[string][]string{}
	for _, s := range Specs() {
		for _, f := range faults(s) {
			out[f] = append(out[f], s.Name)
		}
	}
	return out
}

// Uncovered lists the specs no fault breaks yet: checks nothing has shown
// can fail.
func Uncovered() []Spec {
	var out []Spec
	for _, s := range Specs() {
		if len(s.BrokenBy) == 0 {
			out = append(out, s)
		}
	}
	return out
}

// Faults joins fault lists without repeats, for BrokenBy.
func Faults(lists ...[]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range lists {
		for _, f := range l {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out
}

// Checklist is an item of the seed's implementation checklist
// (../shared/seed/confidential-compute.md).
type Checklist string

// The seed's implementation checklist.
const (
	ChecklistHardware       Checklist = "Select hardware or cloud instance types that support the target confidential compute technology"
	ChecklistProviderVM     Checklist = "Configure provider-specific VM options, firmware, Shielded VM features and host OS images"
	ChecklistCloudCVM       Checklist = "Cloud-provider VMs: enable Confidential VM features and configure bootstrap attestation"
	ChecklistPodRuntime     Checklist = "Pod-level runtime: install Kata Containers, Confidential Containers, runtime classes and attestation services"
	ChecklistRegister       Checklist = "Register the hardware in vMetal or another node provider"
	ChecklistProperties     Checklist = "Add node type properties that describe the confidential compute capability"
	ChecklistAutoNodes      Checklist = "Configure privateNodes.autoNodes to select those node types"
	ChecklistVNode          Checklist = "Add vNode where tenant workloads need stronger runtime isolation"
	ChecklistValidateInside Checklist = "Validate scheduling, attestation, and workload execution from inside the tenant cluster"
)

func checkLabels(labels []string) {
	for _, l := range labels {
		if _, ok := registry[l]; !ok {
			panic(fmt.Sprintf("framework: unknown label %q (known: %s)", l, strings.Join(KnownLabels(), ", ")))
		}
	}
}
