package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"
)

// The JUnit schema the Jenkins junit plugin, GitLab and the common GitHub
// test reporter actions read. Names are stable: a test case is identified by
// classname "<suite>.<top container>" and the rest of the spec text, never by
// labels, durations or seeds; labels are properties instead.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string           `xml:"name,attr"`
	Tests      int              `xml:"tests,attr"`
	Failures   int              `xml:"failures,attr"`
	Errors     int              `xml:"errors,attr"`
	Skipped    int              `xml:"skipped,attr"`
	Time       string           `xml:"time,attr"`
	Timestamp  string           `xml:"timestamp,attr,omitempty"`
	Properties *junitProperties `xml:"properties,omitempty"`
	Cases      []junitCase      `xml:"testcase"`
	seconds    float64
}

type junitProperties struct {
	Property []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name       string           `xml:"name,attr"`
	Classname  string           `xml:"classname,attr"`
	Time       string           `xml:"time,attr"`
	File       string           `xml:"file,attr,omitempty"`
	Line       int              `xml:"line,attr,omitempty"`
	Status     string           `xml:"status,attr"`
	Properties *junitProperties `xml:"properties,omitempty"`
	Skipped    *junitSkipped    `xml:"skipped,omitempty"`
	Failure    *junitFailure    `xml:"failure,omitempty"`
	// FlakyFailure marks a pass after failed attempts, as Maven Surefire
	// does (Jenkins and most JUnit readers show it as flaky).
	FlakyFailure *junitFailure `xml:"flakyFailure,omitempty"`
	Error        *junitFailure `xml:"error,omitempty"`
	SystemOut    string        `xml:"system-out,omitempty"`
	SystemErr    string        `xml:"system-err,omitempty"`
}

type junitSkipped struct {
	Message string `xml:"message,attr,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML: one <testsuite> per top-level
// container, one <testcase> per spec, plus suite setup nodes that failed.
func WriteJUnit(w io.Writer, r types.Report) error {
	suiteName := r.SuiteDescription
	if suiteName == "" {
		suiteName = "cctest"
	}
	out := junitSuites{Name: suiteName, Time: secs(r.RunTime.Seconds())}
	index := map[string]int{}
	for _, s := range r.SpecReports {
		setup := s.LeafNodeType != types.NodeTypeIt
		if setup && !s.State.Is(types.SpecStateFailureStates) {
			continue // passing BeforeSuite & co. are not tests
		}
		group, name := suiteName, specName(s)
		if !setup && len(s.ContainerHierarchyTexts) > 0 {
			group = s.ContainerHierarchyTexts[0]
			name = strings.Join(append(append([]string{}, s.ContainerHierarchyTexts[1:]...), s.LeafNodeText), " ")
		}
		i, ok := index[group]
		if !ok {
			i = len(out.Suites)
			index[group] = i
			out.Suites = append(out.Suites, junitSuite{Name: group})
			if !s.StartTime.IsZero() {
				out.Suites[i].Timestamp = s.StartTime.UTC().Format("2006-01-02T15:04:05")
			}
		}
		suite := &out.Suites[i]
		c := newJUnitCase(s, r.SuitePath, name)
		c.Classname = suiteName
		if group != suiteName {
			c.Classname = suiteName + "." + group
		}
		suite.Tests++
		switch {
		case c.Failure != nil:
			suite.Failures++
		case c.Error != nil:
			suite.Errors++
		case c.Skipped != nil:
			suite.Skipped++
		}
		suite.seconds += s.RunTime.Seconds()
		suite.Cases = append(suite.Cases, c)
	}
	props := suiteProperties(r)
	for i := range out.Suites {
		s := &out.Suites[i]
		s.Time = secs(s.seconds)
		s.Properties = props
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Skipped += s.Skipped
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func newJUnitCase(s types.SpecReport, suitePath, name string) junitCase {
	c := junitCase{
		Name:   name,
		Time:   secs(s.RunTime.Seconds()),
		Status: Status(s),
		Line:   s.LeafNodeLocation.LineNumber,
	}
	if loc := relLocation(suitePath, types.CodeLocation{FileName: s.LeafNodeLocation.FileName}); loc != "" {
		c.File = loc
	}
	var props []junitProperty
	for _, l := range s.Labels() {
		props = append(props, junitProperty{"label", l})
	}
	for _, e := range s.ReportEntries {
		if ev, ok := decodeEvidence(e); ok {
			props = append(props, junitProperty{"evidence", ev.String()})
		}
	}
	if len(props) > 0 {
		c.Properties = &junitProperties{props}
	}
	msg := failureMessage(s)
	switch {
	case s.State == types.SpecStateSkipped:
		c.Skipped = &junitSkipped{Message: "skipped"}
		if msg != "" {
			c.Skipped.Message = "skipped: " + msg
		}
	case s.State == types.SpecStatePending:
		c.Skipped = &junitSkipped{Message: "pending"}
	case s.State.Is(types.SpecStatePanicked | types.SpecStateInterrupted):
		c.Error = &junitFailure{Message: msg, Type: s.State.String(), Text: failureText(s, suitePath)}
	case s.State.Is(types.SpecStateFailureStates):
		c.Failure = &junitFailure{Message: msg, Type: s.State.String(), Text: failureText(s, suitePath)}
	case Status(s) == StatusFlaky:
		c.FlakyFailure = &junitFailure{Message: Attempts(s), Type: StatusFlaky, Text: reporters.RenderTimeline(s, true)}
	}
	if s.State.Is(types.SpecStateFailureStates) {
		var out strings.Builder
		for _, e := range s.ReportEntries {
			if e.Name == DiagnosticsEntry {
				out.WriteString(entryText(e))
				out.WriteString("\n")
			}
		}
		if s.CapturedGinkgoWriterOutput != "" {
			out.WriteString(s.CapturedGinkgoWriterOutput)
		}
		if s.CapturedStdOutErr != "" {
			out.WriteString(s.CapturedStdOutErr)
		}
		c.SystemOut = out.String()
		// Ginkgo's own timeline text: steps, entries and failures in order.
		c.SystemErr = reporters.RenderTimeline(s, true)
	}
	return c
}

// failureText is the failure's message, where it happened and its stack.
func failureText(s types.SpecReport, suitePath string) string {
	var b strings.Builder
	b.WriteString(failureMessage(s))
	b.WriteString("\n\n")
	f := s.Failure
	if f.FailureNodeType != types.NodeTypeInvalid && f.FailureNodeType != s.LeafNodeType {
		fmt.Fprintf(&b, "in [%s] at %s\n", f.FailureNodeType, relLocation(suitePath, f.FailureNodeLocation))
	}
	fmt.Fprintf(&b, "at %s\n", relLocation(suitePath, f.Location))
	if f.Location.FullStackTrace != "" {
		b.WriteString("\n")
		b.WriteString(f.Location.FullStackTrace)
	}
	for _, af := range s.AdditionalFailures {
		fmt.Fprintf(&b, "\nthen %s at %s: %s\n", af.State, relLocation(suitePath, af.Failure.Location), af.Failure.Message)
	}
	return b.String()
}

// entryText is an entry's value as text: strings as they are, others as
// Ginkgo's representation.
func entryText(e types.ReportEntry) string {
	if s, ok := e.Value.GetRawValue().(string); ok {
		return s
	}
	return e.Value.String()
}

func suiteProperties(r types.Report) *junitProperties {
	p := []junitProperty{
		{"SuiteSucceeded", strconv.FormatBool(r.SuiteSucceeded)},
		{"RandomSeed", strconv.FormatInt(r.SuiteConfig.RandomSeed, 10)},
	}
	if r.SuiteConfig.LabelFilter != "" {
		p = append(p, junitProperty{"LabelFilter", r.SuiteConfig.LabelFilter})
	}
	if env, ok := EnvironmentOf(r); ok {
		p = append(p, junitProperty{"environment", env.String()})
	}
	return &junitProperties{p}
}

func secs(s float64) string { return strconv.FormatFloat(s, 'f', 3, 64) }
