package verifier

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cctest/cctest/api/teename"
	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/release"
	sevabi "github.com/google/go-sev-guest/abi"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
)

// MeasureRelease reads a release's measurements from a TRUSTED machine's
// evidence (the machine that booted the release image; its signature is
// not checked here: verify it with `cctest attest` first). A TDX event log,
// when present, must replay to the quote's RTMRs; its events go into the
// record. The record's name, node type and VM size are the caller's.
func MeasureRelease(ev Evidence, name, nodeType, vmSize string, now time.Time) (*release.Record, error) {
	r := &release.Record{APIVersion: release.APIVersion, Kind: release.Kind, Version: release.Version,
		Name: name, NodeType: nodeType, VMSize: vmSize, TEE: ev.TEE, Source: ev.Source, MeasuredAt: now.UTC()}
	switch ev.TEE {
	case teename.TDX:
		q, err := parseTDXQuote(ev.Raw)
		if err != nil {
			return nil, fmt.Errorf("TDX quote: %v", err)
		}
		b := q.body
		rt := b.GetRtmrs()
		r.TDX = &release.TDX{MRTD: hex.EncodeToString(b.GetMrTd()), RTMR0: hex.EncodeToString(rt[0]),
			RTMR1: hex.EncodeToString(rt[1]), RTMR2: hex.EncodeToString(rt[2])}
		if len(ev.EventLog) > 0 {
			vd := &Verdict{}
			log := tdxEventLogCheck(vd, ev, b, &policy.Policy{TDX: &policy.TDX{}})
			if log == nil {
				return nil, errors.New(vd.Reason)
			}
			for _, e := range log.Events {
				if e.RTMR >= 0 && e.RTMR <= 2 {
					r.TDX.Events = append(r.TDX.Events, e)
				}
			}
		}
	case teename.SNP:
		if len(ev.Raw) < snpReportSize {
			return nil, fmt.Errorf("SEV-SNP report is %d bytes, want at least %d", len(ev.Raw), snpReportSize)
		}
		rep, err := safely("SEV-SNP report", func() (*spb.Report, error) { return sevabi.ReportToProto(ev.Raw[:snpReportSize]) })
		if err != nil {
			return nil, fmt.Errorf("SEV-SNP report: %v", err)
		}
		r.SNP = &release.SNP{Measurement: hex.EncodeToString(rep.GetMeasurement()),
			GuestPolicy: fmt.Sprintf("0x%x", rep.GetPolicy()),
			FamilyID:    hex.EncodeToString(rep.GetFamilyId()), ImageID: hex.EncodeToString(rep.GetImageId())}
	default:
		return nil, fmt.Errorf("tee %q: measure takes tdx or sev-snp evidence (%s)", ev.TEE, strings.Join([]string{teename.TDX, teename.SNP}, ", "))
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}
