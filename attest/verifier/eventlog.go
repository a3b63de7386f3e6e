package verifier

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/cctest/cctest/attest/eventlog"
	"github.com/cctest/cctest/attest/policy"
	pb "github.com/google/go-tdx-guest/proto/tdx"
)

// lastEvents is how many of a register's last events a mismatch names.
const lastEvents = 3

// tdxEventLogCheck replays the evidence's CCEL event log into RTMR0-3 and
// compares with the quote. It returns the log when it replays (its events
// are then as trustworthy as the quote), else nil.
func tdxEventLogCheck(vd *Verdict, ev Evidence, body *pb.TDQuoteBody, p *policy.Policy) *eventlog.Log {
	c := Check{Name: "eventlog", Expected: "the CCEL event log replays to the quote's RTMR0-3"}
	if len(ev.EventLog) == 0 {
		c.Measured = "(no event log)"
		if p.TDX.RequireEventLog {
			c.Detail = "the policy requires the TD's CCEL event log (tdx.requireEventLog), and the evidence carries none"
		} else {
			c.Pass, c.Skipped = true, true
			c.Detail = "the evidence carries no CCEL event log, so the RTMRs were not replayed (set tdx.requireEventLog to require one)"
		}
		vd.add(c)
		return nil
	}
	log, err := eventlog.Parse(ev.EventLog)
	if err != nil {
		c.Measured = fmt.Sprintf("%d bytes, unreadable", len(ev.EventLog))
		c.Detail = "the event log does not parse: " + err.Error()
		vd.add(c)
		return nil
	}
	replayed := log.Replay()
	quoted := body.GetRtmrs()
	var bad []string
	var notLogged []string
	for i := 0; i < eventlog.RTMRCount; i++ {
		if bytes.Equal(replayed[i], quoted[i]) {
			continue
		}
		events := log.For(i)
		if i == 3 && len(events) == 0 {
			// RTMR3 is for the running guest (runtime measurements kept
			// outside the CCEL); a log with no RTMR3 events says nothing.
			notLogged = append(notLogged, "RTMR3")
			continue
		}
		bad = append(bad, fmt.Sprintf("RTMR%d: the event log replays to %x, the quote has %x; %s",
			i, replayed[i], quoted[i], describeLast(i, events)))
	}
	c.Measured = fmt.Sprintf("%d events", len(log.Events))
	if len(bad) > 0 {
		c.Detail = strings.Join(bad, "; ")
		vd.add(c)
		return nil
	}
	c.Pass = true
	c.Measured += " replay to RTMR0-3"
	if len(notLogged) > 0 {
		c.Measured = fmt.Sprintf("%d events replay to RTMR0-2 (RTMR3 has no logged events: not replayed)", len(log.Events))
	}
	vd.Events = log.Events
	vd.add(c)
	return log
}

func describeLast(rtmr int, events []eventlog.Event) string {
	if len(events) == 0 {
		return fmt.Sprintf("no event extends RTMR%d", rtmr)
	}
	from := max(0, len(events)-lastEvents)
	var s []string
	for _, e := range events[from:] {
		s = append(s, e.String())
	}
	return fmt.Sprintf("the last events extending RTMR%d: %s", rtmr, strings.Join(s, ", "))
}

// explainRTMRMismatch says, for the allowlist entries with the quote's
// MRTD, which RTMR differs and (with pinned events and a replayed log)
// which event changed, e.g. the kernel command line with old -> new text.
func explainRTMRMismatch(p *policy.Policy, body *pb.TDQuoteBody, log *eventlog.Log) string {
	type expl struct {
		n    int
		text string
	}
	var out []expl
	for _, m := range p.TDX.AllowedMeasurements {
		if m.Placeholder || !bytes.Equal(m.MRTDBytes(), body.GetMrTd()) {
			continue
		}
		pinned, fromEvents := m.RTMRBytes(), m.EventRTMRs()
		var diffs []string
		for i := 0; i < eventlog.RTMRCount; i++ {
			want := pinned[i]
			if want == nil {
				want = fromEvents[i]
			}
			if want == nil || bytes.Equal(want, body.GetRtmrs()[i]) {
				continue
			}
			d := fmt.Sprintf("RTMR%d is %x, the release pins %x", i, body.GetRtmrs()[i], want)
			switch {
			case log != nil && fromEvents[i] != nil:
				d += ": " + diffEvents(pinnedEvents(m.Events, i), log.For(i))
			case log != nil:
				d += " (" + describeLast(i, log.For(i)) + ")"
			default:
				d += " (no replayed event log in the evidence to name the event)"
			}
			diffs = append(diffs, d)
		}
		if len(diffs) > 0 {
			out = append(out, expl{len(diffs), fmt.Sprintf("release %q: %s", m.Name, strings.Join(diffs, "; "))})
		}
	}
	if len(out) == 0 {
		return ""
	}
	// The closest release (fewest differing registers) first.
	sort.SliceStable(out, func(i, j int) bool { return out[i].n < out[j].n })
	var texts []string
	for _, e := range out {
		texts = append(texts, e.text)
	}
	return "; " + strings.Join(texts, "; ")
}

func pinnedEvents(events []policy.TDXEvent, rtmr int) []eventlog.Event {
	var out []eventlog.Event
	for _, e := range events {
		if e.RTMR != rtmr {
			continue
		}
		out = append(out, eventlog.Event{RTMR: e.RTMR, Type: e.Type, Digest: strings.ToLower(normHex(e.Digest)),
			Description: e.Description, Text: e.Text})
	}
	return out
}

func normHex(s string) string {
	b, err := policy.DecodeHex(s)
	if err != nil {
		return s
	}
	return hex.EncodeToString(b)
}

// diffEvents compares the release's events with the measured ones,
// position by position, naming what changed.
func diffEvents(want, got []eventlog.Event) string {
	var d []string
	for i := 0; i < max(len(want), len(got)); i++ {
		switch {
		case i >= len(got):
			d = append(d, fmt.Sprintf("missing %s %q", label(want[i]), want[i].Text))
		case i >= len(want):
			d = append(d, fmt.Sprintf("extra event %s", got[i]))
		case !strings.EqualFold(want[i].Digest, got[i].Digest):
			if want[i].Description != "" && want[i].Description == got[i].Description {
				d = append(d, fmt.Sprintf("%s changed: %q → %q", want[i].Description, want[i].Text, got[i].Text))
			} else {
				d = append(d, fmt.Sprintf("event %d changed: %s %q → %s %q", i+1, label(want[i]), want[i].Text, label(got[i]), got[i].Text))
			}
		}
	}
	if len(d) == 0 {
		return "the events match the release (yet the register differs)"
	}
	return strings.Join(d, ", ")
}

func label(e eventlog.Event) string {
	if e.Description != "" {
		return e.Description
	}
	return e.Type
}
