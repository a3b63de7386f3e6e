package reports

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/cctest/cctest/attest/verifier"
)

// page is everything the HTML template shows. Every string in it is plain
// text (names, messages, events from the cluster): the template escapes it.
// baselineView is what changed since a baseline run (--baseline).
type baselineView struct {
	Name    string   // the baseline's start time, for people
	Changes []string // Diff.Lines(); empty: nothing changed
}

type page struct {
	Title      string
	Summary    Summary
	Suite      string
	SuitePath  string
	Start, End string
	Duration   string
	Env        *Environment
	Config     []kv
	Labels     []string
	States     []string
	Specs      []specView
	Setup      []specView // suite setup nodes that failed or carry entries
	Evidence   []evidenceView
	Cert       certView
	Chart      chart
	// Baseline is set when the page compares the run with an earlier one.
	Baseline *baselineView
	Generated  string
}

type kv struct{ K, V string }

type specView struct {
	ID         string
	Name       string // full text
	Container  string
	Leaf       string
	NodeType   string // It, BeforeSuite, ...
	Labels     []string
	LabelsJSON string
	State      string
	Failed     bool
	Duration   string
	Location   string
	Failure    *failureView
	Extra      []failureView // additional failures
	Timeline   []timelineItem
	Diagnostic []string
	Entries    []kv // other report entries
	Evidence   []evidenceRef
	Output     string
}

type failureView struct {
	State    string
	Message  string
	Location string
	InNode   string
	Stack    string
}

type timelineItem struct {
	At   string // offset from the spec's start
	Kind string
	Text string
	Loc  string
	Bad  bool
}

type evidenceRef struct{ ID, Label string }

type evidenceView struct {
	ID        string
	Rec       EvidenceRecord
	SpecID    string
	Pass      bool
	NonceBind string // pass / FAIL / not checked
	Open      bool   // expanded on load: failures, or all of a small run
	RawB64    string
	RawSize   int
	Checks    []checkView
}

type checkView struct {
	verifier.Check
	Result string
}

type certView struct {
	Rows  []certRow
	Specs []specRef
}

type certRow struct {
	NodeType     string
	TEEs         string
	Subjects     []evidenceRef
	Pass, Fail   int
	Measurements []string
	TCBs         []string
	TrustRoots   []string
	Specs        []specRef
	OK           bool
}

type specRef struct{ ID, Name, State string }

// openEvidenceUpTo: runs with at most this many evidence records show
// them all expanded; larger ones expand only the failures.
const openEvidenceUpTo = 12

// newPage builds the page model from the report.
func newPage(r types.Report) *page {
	p := &page{
		Summary:   Summarize(r),
		Suite:     r.SuiteDescription,
		SuitePath: r.SuitePath,
		Duration:  duration(r.RunTime),
		Generated: time.Now().UTC().Format(time.RFC3339),
	}
	if p.Suite == "" {
		p.Suite = "cctest"
	}
	p.Title = p.Suite + " report"
	if !r.StartTime.IsZero() {
		p.Start = r.StartTime.UTC().Format("2006-01-02 15:04:05 MST")
	}
	if !r.EndTime.IsZero() {
		p.End = r.EndTime.UTC().Format("2006-01-02 15:04:05 MST")
	}
	if env, ok := EnvironmentOf(r); ok {
		p.Env = &env
	}
	p.Config = runConfig(r)

	labels, states := map[string]bool{}, map[string]bool{}
	specIDs := map[int]string{}
	for i, s := range r.SpecReports {
		v := newSpecView(r, i, s, decodeEntries(s))
		specIDs[i] = v.ID
		if s.LeafNodeType != types.NodeTypeIt {
			if v.Failed || len(v.Entries) > 0 || len(v.Diagnostic) > 0 {
				p.Setup = append(p.Setup, v)
			}
			continue
		}
		for _, l := range v.Labels {
			labels[l] = true
		}
		states[v.State] = true
		p.Specs = append(p.Specs, v)
	}
	p.Labels = sortedKeys(labels)
	for _, st := range statusOrder {
		if states[st] {
			p.States = append(p.States, st)
		}
	}
	p.Evidence = evidenceViews(r, specIDs)
	for i := range p.Evidence {
		p.Evidence[i].Open = !p.Evidence[i].Pass || len(p.Evidence) <= openEvidenceUpTo
	}
	// Link each spec to the evidence it recorded.
	bySpec := map[string][]evidenceRef{}
	for _, e := range p.Evidence {
		bySpec[e.SpecID] = append(bySpec[e.SpecID], evidenceRef{e.ID, e.Rec.Kind + " " + e.Rec.Subject})
	}
	for i := range p.Specs {
		p.Specs[i].Evidence = bySpec[p.Specs[i].ID]
	}
	p.Cert = certification(p.Evidence, p.Specs)
	p.Chart = newChart(r, specIDs)
	return p
}

func runConfig(r types.Report) []kv {
	c := r.SuiteConfig
	out := []kv{{"random seed", fmt.Sprint(c.RandomSeed)}}
	if c.LabelFilter != "" {
		out = append(out, kv{"label filter", c.LabelFilter})
	}
	if len(c.FocusStrings) > 0 {
		out = append(out, kv{"focus", strings.Join(c.FocusStrings, ", ")})
	}
	if len(c.SkipStrings) > 0 {
		out = append(out, kv{"skip", strings.Join(c.SkipStrings, ", ")})
	}
	if c.DryRun {
		out = append(out, kv{"dry run", "yes: nothing was executed"})
	}
	if c.Timeout > 0 {
		out = append(out, kv{"timeout", c.Timeout.String()})
	}
	out = append(out, kv{"specs planned", fmt.Sprintf("%d of %d", r.PreRunStats.SpecsThatWillRun, r.PreRunStats.TotalSpecs)})
	return out
}

// decodeEntries decodes the spec's evidence entries once: nil for entries
// that are not evidence.
func decodeEntries(s types.SpecReport) []*Evidence {
	out := make([]*Evidence, len(s.ReportEntries))
	for i, e := range s.ReportEntries {
		if ev, ok := decodeEvidence(e); ok {
			out[i] = &ev
		}
	}
	return out
}

func newSpecView(r types.Report, i int, s types.SpecReport, evs []*Evidence) specView {
	labels := s.Labels()
	lj, _ := json.Marshal(labels)
	if labels == nil {
		lj = []byte("[]")
	}
	v := specView{
		ID:         fmt.Sprintf("spec-%d", i),
		Name:       specName(s),
		Container:  strings.Join(s.ContainerHierarchyTexts, " › "),
		Leaf:       s.LeafNodeText,
		NodeType:   s.LeafNodeType.String(),
		Labels:     labels,
		LabelsJSON: string(lj),
		State:      Status(s),
		Failed:     s.State.Is(types.SpecStateFailureStates),
		Duration:   duration(s.RunTime),
		Location:   relLocation(r.SuitePath, s.LeafNodeLocation),
		Output:     strings.TrimSpace(s.CapturedGinkgoWriterOutput + s.CapturedStdOutErr),
	}
	if v.Leaf == "" {
		v.Leaf = v.Name
	}
	if !s.Failure.IsZero() {
		v.Failure = &failureView{
			State:    s.State.String(),
			Message:  failureMessage(s),
			Location: relLocation(r.SuitePath, s.Failure.Location),
			Stack:    s.Failure.Location.FullStackTrace,
		}
		if t := s.Failure.FailureNodeType; t != types.NodeTypeInvalid && t != s.LeafNodeType {
			v.Failure.InNode = fmt.Sprintf("%s at %s", t, relLocation(r.SuitePath, s.Failure.FailureNodeLocation))
		}
	}
	for _, af := range s.AdditionalFailures {
		v.Extra = append(v.Extra, failureView{State: af.State.String(), Message: af.Failure.Message, Location: relLocation(r.SuitePath, af.Failure.Location)})
	}
	for j, e := range s.ReportEntries {
		switch {
		case evs[j] != nil:
		case e.Name == DiagnosticsEntry:
			v.Diagnostic = append(v.Diagnostic, entryText(e))
		case e.Name == EnvironmentEntry: // shown in its own section
		default:
			v.Entries = append(v.Entries, kv{e.Name, entryText(e)})
		}
	}
	v.Timeline = timeline(r.SuitePath, s, evs)
	return v
}

// timeline lists what happened in the spec, as offsets from its start.
func timeline(suitePath string, s types.SpecReport, evs []*Evidence) []timelineItem {
	var out []timelineItem
	evidence := map[types.TimelineLocation]*Evidence{}
	for j, e := range s.ReportEntries {
		if evs[j] != nil {
			evidence[e.TimelineLocation] = evs[j]
		}
	}
	at := func(t time.Time) string {
		if t.IsZero() || s.StartTime.IsZero() {
			return ""
		}
		return fmt.Sprintf("+%.3fs", t.Sub(s.StartTime).Seconds())
	}
	for _, ev := range s.Timeline() {
		switch e := ev.(type) {
		case types.SpecEvent:
			it := timelineItem{At: at(e.TimelineLocation.Time), Loc: relLocation(suitePath, e.CodeLocation)}
			switch e.SpecEventType {
			case types.SpecEventByStart:
				it.Kind, it.Text = "step", e.Message
			case types.SpecEventByEnd:
				it.Kind, it.Text = "step done", fmt.Sprintf("%s (%s)", e.Message, duration(e.Duration))
			case types.SpecEventNodeStart:
				it.Kind, it.Text = string(e.NodeType.String()), e.Message
			case types.SpecEventNodeEnd:
				it.Kind, it.Text = e.NodeType.String()+" done", fmt.Sprintf("%s (%s)", e.Message, duration(e.Duration))
			default:
				it.Kind, it.Text = e.SpecEventType.String(), e.Message
			}
			out = append(out, it)
		case types.ReportEntry:
			text := e.Name
			if ev := evidence[e.TimelineLocation]; ev != nil {
				text = "evidence: " + ev.String()
			}
			out = append(out, timelineItem{At: at(e.TimelineLocation.Time), Kind: "entry", Text: text, Loc: relLocation(suitePath, e.Location)})
		case types.Failure:
			out = append(out, timelineItem{At: at(e.TimelineLocation.Time), Kind: s.State.String(), Text: firstLine(e.Message), Loc: relLocation(suitePath, e.Location), Bad: true})
		case types.AdditionalFailure:
			out = append(out, timelineItem{At: at(e.Failure.TimelineLocation.Time), Kind: e.State.String(), Text: firstLine(e.Failure.Message), Loc: relLocation(suitePath, e.Failure.Location), Bad: true})
		case types.ProgressReport:
			out = append(out, timelineItem{At: at(e.TimelineLocation.Time), Kind: "progress", Text: firstLine(e.Message + " " + e.CurrentStepText)})
		}
	}
	return out
}

func evidenceViews(r types.Report, specIDs map[int]string) []evidenceView {
	var out []evidenceView
	walkEvidence(r, func(spec int, rec EvidenceRecord) {
		v := evidenceView{ID: fmt.Sprintf("ev-%d", len(out)), Rec: rec, SpecID: specIDs[spec], Pass: rec.Verdict.Pass,
			RawSize: len(rec.Raw), RawB64: base64.StdEncoding.EncodeToString(rec.Raw), NonceBind: "not checked"}
		if c, ok := rec.Verdict.Check("nonce"); ok {
			switch {
			case c.Skipped:
				v.NonceBind = "skipped"
			case c.Pass:
				v.NonceBind = "bound (pass)"
			default:
				v.NonceBind = "FAIL"
			}
		}
		for _, c := range rec.Verdict.Checks {
			res := "pass"
			switch {
			case c.Skipped:
				res = "skipped"
			case !c.Pass:
				res = "fail"
			}
			v.Checks = append(v.Checks, checkView{c, res})
		}
		out = append(out, v)
	})
	return out
}

// certification groups the evidence by node type and lists the specs
// labelled node-types; a node type passes when all its evidence and the
// node-types specs naming it pass.
func certification(evs []evidenceView, specs []specView) certView {
	var c certView
	var typed []specView
	for _, s := range specs {
		for _, l := range s.Labels {
			if l == "node-types" {
				typed = append(typed, s)
				c.Specs = append(c.Specs, specRef{s.ID, s.Name, s.State})
				break
			}
		}
	}
	rows := map[string]*certRow{}
	var order []string
	sets := map[string][4]map[string]bool{}
	// examined: the specs that recorded evidence of each node type's nodes.
	examined := map[string]map[string]bool{}
	for _, e := range evs {
		nt := e.Rec.NodeType
		if nt == "" {
			nt = "(node type not recorded)"
		}
		row, ok := rows[nt]
		if !ok {
			row = &certRow{NodeType: nt}
			rows[nt] = row
			order = append(order, nt)
			sets[nt] = [4]map[string]bool{{}, {}, {}, {}}
		}
		row.Subjects = append(row.Subjects, evidenceRef{e.ID, e.Rec.Kind + " " + e.Rec.Subject})
		if examined[nt] == nil {
			examined[nt] = map[string]bool{}
		}
		examined[nt][e.SpecID] = true
		if e.Pass {
			row.Pass++
		} else {
			row.Fail++
		}
		st := sets[nt]
		add := func(m map[string]bool, v string) {
			if v != "" {
				m[v] = true
			}
		}
		add(st[0], e.Rec.TEE)
		add(st[1], e.Rec.Verdict.Measurement)
		add(st[2], e.Rec.Verdict.TCB)
		add(st[3], e.Rec.Verdict.TrustRoot)
	}
	for _, nt := range order {
		row, st := rows[nt], sets[nt]
		row.TEEs = strings.Join(sortedKeys(st[0]), ", ")
		row.Measurements, row.TCBs, row.TrustRoots = sortedKeys(st[1]), sortedKeys(st[2]), sortedKeys(st[3])
		row.OK = row.Fail == 0
		for _, s := range typed {
			if strings.Contains(s.Name, nt) {
				row.Specs = append(row.Specs, specRef{s.ID, s.Name, s.State})
				if s.State != types.SpecStatePassed.String() {
					row.OK = false
				}
			}
		}
		// A spec that examined this type's nodes and failed fails the type
		// too, even with every piece of evidence passing (e.g. two nodes
		// backed by one machine).
		for _, s := range specs {
			if examined[nt][s.ID] && s.Failed && !slices.ContainsFunc(row.Specs, func(r specRef) bool { return r.ID == s.ID }) {
				row.Specs = append(row.Specs, specRef{s.ID, s.Name, s.State})
				row.OK = false
			}
		}
		c.Rows = append(c.Rows, *row)
	}
	return c
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}
