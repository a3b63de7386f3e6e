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
