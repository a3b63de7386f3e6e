package verifier

import (
	"fmt"

	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cctest/cctest/attest/eventlog"
)

// Check is one step of a verification: what was expected, what the
// evidence showed, and whether it passed.
type Check struct {
	Name     string `json:"name"`
	Expected string `json:"expected,omitempty"`
	Measured string `json:"measured,omitempty"`
	Pass     bool   `json:"pass"`
	// Skipped checks pass; Detail says why they did not run.
	Skipped bool   `json:"skipped,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// Verdict is the result of verifying evidence against a policy.
type Verdict struct {
	TEE    string `json:"tee"`
	Pass   bool   `json:"pass"`
	Reason string `json:"reason,omitempty"` // first failure, human readable
	Policy string `json:"policy,omitempty"`
	Source string `json:"source,omitempty"`

	Checks []Check `json:"checks"`
	// Notes say what passed only because the policy permits it.
	Notes []string `json:"notes,omitempty"`

	// Identity of what was attested.
	Measurement string   `json:"measurement,omitempty"` // MRTD or MEASUREMENT, hex
	RTMRs       []string `json:"rtmrs,omitempty"`
	// Events are the TD's CCEL events, set when the log replays to the
	// quote's RTMRs (so they are as trustworthy as the quote).
	Events        []eventlog.Event `json:"events,omitempty"`
	MatchedImage  string           `json:"matchedImage,omitempty"` // allowlist entry name
	TCB           string           `json:"tcb,omitempty"`
	ChipID        string           `json:"chipID,omitempty"`     // empty when masked (all zero, as with a VLEK)
	SigningKey    string           `json:"signingKey,omitempty"` // SNP: VCEK or VLEK
	FMSPC         string           `json:"fmspc,omitempty"`
	PPID          string           `json:"ppid,omitempty"`
	ProductLine   string           `json:"productLine,omitempty"`
	ReportVersion uint32           `json:"reportVersion,omitempty"` // SNP report / TDX quote version
	ReportData    string           `json:"reportData,omitempty"`
	TrustRoot     string           `json:"trustRoot,omitempty"`
	Simulated     bool             `json:"simulated"` // chained to the cctest test PKI
	ChainCached   bool             `json:"chainCached,omitempty"`
	// TDXTCB is Intel's TCB status of a TDX platform, TDX module and QE,
	// with advisory IDs and the collateral's dates (collateral.verify on).
	TDXTCB *TDXTCBStatus `json:"tdxTcb,omitempty"`
	// TDXTCBForecast is the status under Intel's early TCB info (the next
	// TCB recovery) with its effective date and the components to update.
	// Informational: it never fails a verdict.
	TDXTCBForecast *TDXTCBForecast `json:"tdxTcbForecast,omitempty"`

	VerifiedAt time.Time `json:"verifiedAt"`
}

// add records a check; the first failure becomes the verdict's reason.
func (v *Verdict) add(c Check) {
	v.Checks = append(v.Checks, c)
	if !c.Pass && v.Reason == "" {
		detail := c.Detail
		if detail == "" {
			detail = fmt.Sprintf("expected %s, measured %s", c.Expected, c.Measured)
		}
		v.Reason = c.Name + ": " + detail
	}
}

func (v *Verdict) finish() Verdict {
	v.Pass = v.Reason == "" && len(v.Checks) > 0
	if !v.Pass && v.Reason == "" {
		v.Reason = "no checks ran"
	}
	return *v
}

// Check returns the named check, if recorded.
func (v Verdict) Check(name string) (Check, bool) {
	for _, c := range v.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// Failed returns the names of the failed checks.
func (v Verdict) Failed() []string {
	var out []string
	for _, c := range v.Checks {
		if !c.Pass {
			out = append(out, c.Name)
		}
	}
	return out
}

// WriteTable renders the verdict for a terminal.
func (v Verdict) WriteTable(w io.Writer) error {
	status := "PASS"
	if !v.Pass {
		status = "FAIL"
	}
	fmt.Fprintf(w, "%s  %s evidence", status, v.TEE)
	if v.Source != "" {
		fmt.Fprintf(w, " from %s", v.Source)
	}
	if v.Policy != "" {
		fmt.Fprintf(w, " against %s", v.Policy)
	}
	fmt.Fprintln(w)
	if v.Reason != "" {
		fmt.Fprintf(w, "reason: %s\n", v.Reason)
	}
	if v.TrustRoot != "" {
		fmt.Fprintf(w, "trust root: %s\n", v.TrustRoot)
	}
	if t := v.TDXTCB; t != nil {
		fmt.Fprintf(w, "tcb status: %s", t.Status)
		if a := t.AdvisoryIDs(); len(a) > 0 {
			fmt.Fprintf(w, " (advisories %s)", strings.Join(a, ", "))
		}
		fmt.Fprintf(w, ", tcbEvaluationDataNumber %d\n", t.TcbEvaluationDataNumber)
		for _, a := range t.Collateral {
			stale := ""
			if a.Stale {
				stale = "  STALE"
			}
			fmt.Fprintf(w, "collateral: %s issued %s, next update %s%s\n", a.Name,
				a.IssueDate.UTC().Format(time.RFC3339), a.NextUpdate.UTC().Format(time.RFC3339), stale)
		}
	}
	if f := v.TDXTCBForecast; f != nil {
		fmt.Fprintf(w, "tcb forecast: %s\n", f.Summary)
		for _, a := range f.Collateral {
			fmt.Fprintf(w, "forecast collateral: %s issued %s, next update %s\n", a.Name,
				a.IssueDate.UTC().Format(time.RFC3339), a.NextUpdate.UTC().Format(time.RFC3339))
		}
	}
	for _, n := range v.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tEXPECTED\tMEASURED")
	for _, c := range v.Checks {
		res := "pass"
		switch {
		case c.Skipped:
			res = "skipped"
		case !c.Pass:
			res = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, res, short(c.Expected), short(c.Measured))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range v.Checks {
		if !c.Pass && c.Detail != "" {
			fmt.Fprintf(w, "\n%s: %s", c.Name, c.Detail)
		}
	}
	if !v.Pass {
		fmt.Fprintln(w)
	}
	_, err := fmt.Fprintln(w)
	return err
}

// short keeps table cells readable; JSON output has the full values.
func short(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) <= 60 {
		return s
	}
	return s[:28] + "…" + s[len(s)-28:]
}
