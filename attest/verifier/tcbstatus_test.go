package verifier

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/trust"
	"github.com/cctest/cctest/simulators/tee"
	tdxtestdata "github.com/google/go-tdx-guest/testing/testdata"
)

// acceptPolicy is tdx-simulated.yaml with collateral and the given
// acceptTcbStatuses / collateral extras.
func acceptPolicy(t *testing.T, statuses string, allowStale bool) func(string) string {
	return func(doc string) string {
		doc = withCollateral(doc)
		if allowStale {
			doc = strings.Replace(doc, "collateral:\n", "collateral:\n  allowStale: true\n", 1)
		}
		if statuses != "" {
			doc = strings.Replace(doc, "tdx:\n", "tdx:\n  acceptTcbStatuses: "+statuses+"\n", 1)
		}
		return doc
	}
}

func TestTDXTCBStatusFromCollateral(t *testing.T) {
	ev := tdxEvidence(t, tee.NewTDXMachine(tee.TDXOptions{Name: "tcb"}), testNonce)
	strict := editedPolicy(t, "tdx-simulated.yaml", acceptPolicy(t, "", false))
	lenient := editedPolicy(t, "tdx-simulated.yaml", acceptPolicy(t, "[UpToDate, SWHardeningNeeded]", false))

	// UpToDate passes the default policy and the verdict carries the status and dates.
	vd := newTestVerifier(nil, nil).Verify(ev, strict, testNonce[:])
	requirePass(t, vd)
	if vd.TDXTCB == nil || vd.TDXTCB.Status != "UpToDate" || vd.TDXTCB.TcbEvaluationDataNumber != 17 || len(vd.TDXTCB.Collateral) != 4 {
		t.Fatalf("TDXTCB = %+v", vd.TDXTCB)
	}
	for _, a := range vd.TDXTCB.Collateral {
		if a.IssueDate.IsZero() || a.NextUpdate.IsZero() || a.Stale {
			t.Errorf("collateral %+v", a)
		}
	}

	// SWHardeningNeeded with an advisory: rejected by default, accepted when listed.
	sw := &tee.PCS{TCBStatus: "SWHardeningNeeded", AdvisoryIDs: []string{"INTEL-SA-00837", "INTEL-SA-00960"}}
	requireFail(t, newTestVerifier(sw, nil).Verify(ev, strict, testNonce[:]), "tcb-status",
		"platform SWHardeningNeeded (INTEL-SA-00837, INTEL-SA-00960); tdx.acceptTcbStatuses is [UpToDate]")
	vd = newTestVerifier(sw, nil).Verify(ev, lenient, testNonce[:])
	requirePass(t, vd)
	if got := vd.TDXTCB.AdvisoryIDs(); vd.TDXTCB.Status != "SWHardeningNeeded" || len(got) != 2 {
		t.Errorf("status %s advisories %v", vd.TDXTCB.Status, got)
	}
	js, _ := json.Marshal(vd)
	for _, want := range []string{`"tdxTcb":{"status":"SWHardeningNeeded"`, `"advisoryIDs":["INTEL-SA-00837","INTEL-SA-00960"]`, `"nextUpdate":"`, `"tcbEvaluationDataNumber":17`} {
		if !bytes.Contains(js, []byte(want)) {
			t.Errorf("verdict JSON lacks %s", want)
		}
	}
	var table bytes.Buffer
	_ = vd.WriteTable(&table)
	if !strings.Contains(table.String(), "tcb status: SWHardeningNeeded (advisories INTEL-SA-00837, INTEL-SA-00960)") ||
		!strings.Contains(table.String(), "collateral: TCB info (FMSPC") {
		t.Errorf("table:\n%s", table.String())
	}
	// The cached chain keeps the evaluation, and the policy is applied again.
	v := newTestVerifier(sw, nil)
	requirePass(t, v.Verify(ev, lenient, testNonce[:]))
	vd = v.Verify(ev, lenient, testNonce[:])
	if !vd.ChainCached || vd.TDXTCB == nil || vd.TDXTCB.Status != "SWHardeningNeeded" {
		t.Errorf("cached verdict: cached=%v tcb=%+v", vd.ChainCached, vd.TDXTCB)
	}
	requireFail(t, v.Verify(ev, strict, testNonce[:]), "tcb-status", "platform SWHardeningNeeded")

	// Each component's status is judged: the QE, the TDX module, Revoked.
	requireFail(t, newTestVerifier(&tee.PCS{QEStatus: "OutOfDate"}, nil).Verify(ev, lenient, testNonce[:]),
		"tcb-status", "qe OutOfDate")
	mod := tdxEvidence(t, tee.NewTDXMachine(tee.TDXOptions{Name: "tdx15", TeeTcbSvn: []byte{3, 1, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}), testNonce)
	vd = newTestVerifier(nil, nil).Verify(mod, strict, testNonce[:])
	requirePass(t, vd)
	if len(vd.TDXTCB.Levels) != 3 || vd.TDXTCB.Levels[1].Component != "tdx-module" {
		t.Errorf("levels %+v", vd.TDXTCB.Levels)
	}
	requireFail(t, newTestVerifier(&tee.PCS{ModuleStatus: "OutOfDate"}, nil).Verify(mod, lenient, testNonce[:]),
		"tcb-status", "tdx-module OutOfDate")
	requireFail(t, newTestVerifier(&tee.PCS{TCBStatus: "Revoked"}, nil).Verify(ev, lenient, testNonce[:]),
		"tcb-status", "platform Revoked")
	requireFail(t, newTestVerifier(&tee.PCS{ModuleStatus: "ConfigurationNeeded"}, nil).Verify(mod, lenient, testNonce[:]),
		"tcb-status", "tdx-module ConfigurationNeeded")
}

// A replay recorded 31 days ago is past every artefact's nextUpdate (30 days).
func TestStaleCollateralReplay(t *testing.T) {
	dir := t.TempDir()
	recorded := time.Now().Add(-31 * 24 * time.Hour)
	ev := tdxEvidence(t, tee.NewTDXMachine(tee.TDXOptions{Name: "stale"}), testNonce)
	online := &CollateralDir{Dir: dir, TDX: tee.TDXGetter{Handler: &tee.PCS{Now: func() time.Time { return recorded }}}}
	roots := func(d *CollateralDir) *trust.Roots {
		r := tee.TestRoots()
		r.TDXGetter = d.TDXGetter()
		return r
	}
	p := editedPolicy(t, "tdx-simulated.yaml", acceptPolicy(t, "", false))
	vd := New(Options{TestRoots: roots(online), DisableCache: true, Now: func() time.Time { return recorded }}).Verify(ev, p, testNonce[:])
	requirePass(t, vd)

	replay := New(Options{TestRoots: roots(&CollateralDir{Dir: dir}), DisableCache: true})
	vd = replay.Verify(ev, p, testNonce[:])
	next := recorded.Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	requireFail(t, vd, "collateral-fresh", "stale collateral: TCB info (FMSPC 50806f000000) (nextUpdate "+next+")")
	if c, _ := vd.Check("verify"); !c.Pass {
		t.Errorf("signatures of the stale replay should still verify: %+v", c)
	}
	for _, a := range vd.TDXTCB.Collateral {
		if !a.Stale {
			t.Errorf("%s not marked stale", a.Name)
		}
	}
	allow := editedPolicy(t, "tdx-simulated.yaml", acceptPolicy(t, "", true))
	vd = replay.Verify(ev, allow, testNonce[:])
	requirePass(t, vd)
	if len(vd.Notes) == 0 || !strings.Contains(vd.Notes[len(vd.Notes)-1], "stale collateral accepted because collateral.allowStale is true: TCB info") {
		t.Errorf("notes %v", vd.Notes)
	}
}

// Garbage collateral gives a clear verification error, never a panic.
func TestBadCollateral(t *testing.T) {
	ev := tdxEvidence(t, tee.NewTDXMachine(tee.TDXOptions{Name: "bad"}), testNonce)
	p := editedPolicy(t, "tdx-simulated.yaml", acceptPolicy(t, "", false))
	for name, body := range map[string]string{
		"not json":   "<html>",
		"wrong type": `{"tcbInfo": 5, "signature": "00"}`,
		"bad status": `{"tcbInfo": {"tcbLevels":[{"tcbStatus":"Fine"}]}, "signature": "00"}`,
		"empty":      "",
	} {
		r := tee.TestRoots()
		r.TDXGetter = fixedTCBInfo{body: body, next: tee.TDXGetter{Handler: tee.NewPCS()}}
		vd := New(Options{TestRoots: r, DisableCache: true}).Verify(ev, p, testNonce[:])
		requireFail(t, vd, "verify", "tcbInfo")
		t.Logf("%s: %s", name, vd.Reason)
	}
}

type fixedTCBInfo struct {
	body string
	next tee.TDXGetter
}

func (f fixedTCBInfo) Get(u string) (map[string][]string, []byte, error) {
	h, b, err := f.next.Get(u)
	if strings.Contains(u, "/tcb?") {
		b = []byte(f.body)
	}
	return h, b, err
}

// The hardware template sets no TEE_TCB_SVN floor any more: the old one
// (03 00 05 00..., copied from a test quote) rejected a real production quote.
func TestHardwareTemplateHasNoByteFloor(t *testing.T) {
	raw := tdxtestdata.RawQuote
	mrtd := fmt.Sprintf("%x", raw[0x30+0x88:0x30+0xB8])
	rd := raw[0x30+0x208 : 0x30+0x248]
	hw := func(extra string) *policy.Policy {
		return editedPolicy(t, "tdx-hardware.yaml", func(doc string) string {
			if !strings.Contains(doc, "acceptTcbStatuses: [UpToDate]\n") || strings.Contains(doc, "\n  minimumTeeTcbSvn:") {
				t.Fatalf("tdx-hardware.yaml: want acceptTcbStatuses [UpToDate] and no byte floor")
			}
			// Offline (no Intel PCS here): drop collateral and the status list that needs it.
			doc = strings.Replace(noCollateral(doc), "  acceptTcbStatuses: [UpToDate]\n", "", 1)
			doc = strings.Replace(doc, "placeholder: true", "placeholder: false", 1)
			// Intel's sample quote has its own RTMRs and no SEPT_VE_DISABLE.
			doc = regexp.MustCompile(`(?m)^    rtmr[0-2]: .*\n|^  requireSeptVeDisable: true\n`).ReplaceAllString(doc, "")
			return strings.Replace(doc, strings.Repeat("0", 96), mrtd, 1) + extra
		})
	}
	v := New(Options{Now: func() time.Time { return time.Date(2023, time.July, 1, 1, 0, 0, 0, time.UTC) }})
	ev, err := ParseEvidence(raw)
	if err != nil {
		t.Fatal(err)
	}
	vd := v.Verify(ev, hw(""), rd)
	requirePass(t, vd)
	if c, _ := vd.Check("tcb"); !c.Skipped {
		t.Errorf("tcb check = %+v, want skipped", c)
	}
	requireFail(t, v.Verify(ev, hw("  minimumTeeTcbSvn: \"03000500000000000000000000000000\"\n"), rd), "tcb", "TEE_TCB_SVN[2]")
}
