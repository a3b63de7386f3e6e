package reports

import (
	"strings"
	"testing"

	"github.com/cctest/cctest/attest/verifier"
)

// The evidence section shows Intel's TCB status, advisories and the
// collateral's dates (stale ones marked).
func TestHTMLShowsTDXTCBStatus(t *testing.T) {
	r := synthetic(4)
	var set bool
	for i := range r.SpecReports {
		for j, e := range r.SpecReports[i].ReportEntries {
			rec, ok := e.GetRawValue().(Evidence)
			if !ok || set {
				continue
			}
			rec.Verdict.TDXTCB = &verifier.TDXTCBStatus{Status: "SWHardeningNeeded", TcbEvaluationDataNumber: 17,
				Levels: []verifier.TCBLevel{{Component: "platform", Status: "SWHardeningNeeded", TcbDate: "2025-01-01T00:00:00Z", AdvisoryIDs: []string{"INTEL-SA-00837"}},
					{Component: "qe", Status: "UpToDate"}},
				Collateral: []verifier.CollateralArtefact{{Name: "TCB info (FMSPC 50806f000000)", IssueDate: t0, NextUpdate: t0.AddDate(0, 0, 30), Stale: true}}}
			r.SpecReports[i].ReportEntries[j] = entry(e.Name, rec, e.Time, e.TimelineLocation.Order)
			set = true
		}
	}
	if !set {
		t.Fatal("synthetic report has no Evidence entry")
	}
	page := htmlOf(t, r)
	mustContain(t, page, "<dt>TCB status</dt>", "<strong>SWHardeningNeeded</strong> (Intel tcbEvaluationDataNumber 17)",
		"platform: SWHardeningNeeded (TCB date 2025-01-01T00:00:00Z) · advisories <code>INTEL-SA-00837</code>",
		"TCB info (FMSPC 50806f000000): issued 2026-11-27T12:00:00Z, next update 2026-12-27T12:00:00Z <span class=\"bad\">STALE</span>")
	if strings.Count(page, "<dt>TCB status</dt>") != 1 {
		t.Error("TCB status shown for evidence without it")
	}
}

// The evidence section shows the forecast under the early TCB info, its
// effective date and the component to update, or why there is none.
func TestHTMLShowsTDXTCBForecast(t *testing.T) {
	r := synthetic(4)
	eff := t0.AddDate(0, 0, 14)
	forecasts := []*verifier.TDXTCBForecast{
		{Available: true, Pending: true, Status: "OutOfDate", CurrentStatus: "UpToDate", StandardEvaluationDataNumber: 17, EarlyEvaluationDataNumber: 18,
			EffectiveDate: &eff, Levels: []verifier.TCBLevel{{Component: "platform", Status: "OutOfDate", AdvisoryIDs: []string{"INTEL-SA-99999"}}},
			ComponentsToUpdate: []verifier.ComponentUpdate{{Component: "TDX module", Detail: "TEE_TCB_SVN[0] (TDX Module, OS/VMM) 3 → 4"}}},
		{StandardEvaluationDataNumber: 17, Unavailable: "the early TCB info could not be fetched: not recorded"},
	}
	n := 0
	for i := range r.SpecReports {
		for j, e := range r.SpecReports[i].ReportEntries {
			rec, ok := e.GetRawValue().(Evidence)
			if !ok || n == len(forecasts) {
				continue
			}
			rec.Verdict.TDXTCBForecast = forecasts[n]
			n++
			r.SpecReports[i].ReportEntries[j] = entry(e.Name, rec, e.Time, e.TimelineLocation.Order)
		}
	}
	if n != len(forecasts) {
		t.Fatalf("synthetic report has %d Evidence entries, want %d", n, len(forecasts))
	}
	page := htmlOf(t, r)
	mustContain(t, page, "<dt>TCB forecast</dt>",
		"<strong>OutOfDate</strong> under Intel's early TCB info from <strong>"+eff.Format("2006-01-02")+"</strong> (tcbEvaluationDataNumber 18 early, 17 standard)",
		"platform: OutOfDate · advisories <code>INTEL-SA-99999</code>",
		"update <strong>TDX module</strong>: TEE_TCB_SVN[0] (TDX Module, OS/VMM) 3 → 4",
		"unavailable: the early TCB info could not be fetched: not recorded (not an error)",
		"informational: the forecast never fails a verdict by itself")
}
