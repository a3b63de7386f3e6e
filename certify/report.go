package certify

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Finding is one problem found by a check.
type Finding struct {
	ID       string   `json:"id"`
	Check    string   `json:"check"`
	Severity Severity `json:"severity"`
	File     string   `json:"file,omitempty"`
	Path     string   `json:"path,omitempty"`
	Line     int      `json:"line,omitempty"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix,omitempty"`
}

// Location is file:line path, as far as known.
func (f Finding) Location() string {
	loc := f.File
	if f.Line > 0 {
		loc = fmt.Sprintf("%s:%d", loc, f.Line)
	}
	if f.Path != "" {
		if loc != "" {
			loc += " "
		}
		loc += f.Path
	}
	return loc
}

// Status of a check after a run.
type Status string

const (
	StatusPass    Status = "pass"
	StatusWarn    Status = "warn"
	StatusFail    Status = "fail"
	StatusSkipped Status = "skipped"
)

// CheckResult is the outcome of one check.
type CheckResult struct {
	Check
	Status     Status `json:"status"`
	SkipReason string `json:"skipReason,omitempty"`
}

// Report is the result of a certify run.
type Report struct {
	Findings []Finding     `json:"findings"`
	Checks   []CheckResult `json:"checks"`
	Errors   int           `json:"errors"`
	Warnings int           `json:"warnings"`
}

// ByID returns the findings of one check.
func (r *Report) ByID(id string) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.ID == id {
			out = append(out, f)
		}
	}
	return out
}

// Result returns the result of one check.
func (r *Report) Result(id string) CheckResult {
	for _, c := range r.Checks {
		if c.ID == id {
			return c
		}
	}
	return CheckResult{}
}

// finish sorts, de-duplicates and counts findings and derives check status.
func (r *Report) finish(skipped map[string]string) {
	seen := map[string]bool{}
	var fs []Finding
	for _, f := range r.Findings {
		k := strings.Join([]string{f.ID, f.File, f.Path, f.Message}, "\x00")
		if !seen[k] {
			seen[k] = true
			fs = append(fs, f)
		}
	}
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].ID != fs[j].ID {
			return fs[i].ID < fs[j].ID
		}
		if fs[i].File != fs[j].File {
			return fs[i].File < fs[j].File
		}
		return fs[i].Line < fs[j].Line
	})
	r.Findings = fs
	r.Errors, r.Warnings = 0, 0
	worst := map[string]Status{}
	for _, f := range fs {
		if f.Severity == SeverityError {
			r.Errors++
			worst[f.ID] = StatusFail
		} else {
			r.Warnings++
			if worst[f.ID] != StatusFail {
				worst[f.ID] = StatusWarn
			}
		}
	}
	r.Checks = nil
	for _, c := range AllChecks() {
		res := CheckResult{Check: c, Status: StatusPass}
		if s, ok := worst[c.ID]; ok {
			res.Status = s
		} else if why, ok := skipped[c.ID]; ok {
			res.Status, res.SkipReason = StatusSkipped, why
		}
		r.Checks = append(r.Checks, res)
	}
}

// WriteText writes findings the way compilers do — "file:line: error
// CC033: message", the YAML path and the fix hint indented below — and a
// summary line. Lines stay as long as their message, not the longest one.
func (r *Report) WriteText(w io.Writer) error {
	for _, f := range r.Findings {
		loc := f.File
		if loc == "" {
			loc = "certify"
		}
		if f.Line > 0 {
			loc = fmt.Sprintf("%s:%d", loc, f.Line)
		}
		fmt.Fprintf(w, "%s: %s %s: %s\n", loc, f.Severity, f.ID, oneLine(f.Message))
		if f.Path != "" {
			fmt.Fprintf(w, "    at %s\n", f.Path)
		}
		if f.Fix != "" {
			fmt.Fprintf(w, "    hint: %s\n", oneLine(f.Fix))
		}
	}
	var pass, skipped int
	for _, c := range r.Checks {
		switch c.Status {
		case StatusPass:
			pass++
		case StatusSkipped:
			skipped++
		}
	}
	_, err := fmt.Fprintf(w, "%d error(s), %d warning(s); %d of %d checks passed, %d skipped\n",
		r.Errors, r.Warnings, pass, len(r.Checks), skipped)
	return err
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// WriteJSON writes the whole report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// WriteJUnit writes one test case per check: errors are failures, warnings
// go to system-out, skipped checks are skipped.
func (r *Report) WriteJUnit(w io.Writer) error {
	s := junitSuite{Name: "cctest certify"}
	for _, c := range r.Checks {
		jc := junitCase{Name: c.ID + " " + c.Name, Classname: "certify"}
		var errs, warns []string
		for _, f := range r.ByID(c.ID) {
			line := fmt.Sprintf("%s: %s (fix: %s)", f.Location(), f.Message, f.Fix)
			if f.Severity == SeverityError {
				errs = append(errs, line)
			} else {
				warns = append(warns, "warning: "+line)
			}
		}
		switch {
		case len(errs) > 0:
			jc.Failure = &junitFailure{Message: fmt.Sprintf("%d error(s)", len(errs)), Type: "error", Text: strings.Join(errs, "\n")}
			s.Failures++
		case c.Status == StatusSkipped:
			jc.Skipped = &junitSkipped{Message: c.SkipReason}
			s.Skipped++
		}
		jc.SystemOut = strings.Join(warns, "\n")
		s.Cases = append(s.Cases, jc)
	}
	s.Tests = len(s.Cases)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{s}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
