package verifier

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cctest/cctest/attest/eventlog"
	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/release"
	"github.com/cctest/cctest/fixtures"
	"github.com/cctest/cctest/simulators/tee"
)

func bootMachine(name string, faults ...tee.Fault) *tee.TDXMachine {
	b := tee.DefaultBootChain()
	return tee.NewTDXMachine(tee.TDXOptions{Name: name, Boot: &b, Faults: faults})
}

func logEvidence(t *testing.T, m *tee.TDXMachine) Evidence {
	ev := tdxEvidence(t, m, testNonce)
	ev.EventLog = m.EventLog()
	return ev
}

// releasePolicy pins the release machine's RTMRs (those in pin) and, with
// events, its boot events, in the offline simulated TDX policy.
func releasePolicy(t *testing.T, release *tee.TDXMachine, pin []int, events bool, extra string) *policy.Policy {
	t.Helper()
	r := release.RTMRs()
	return editedPolicy(t, "tdx-simulated.yaml", func(doc string) string {
		doc = noCollateral(doc)
		doc = regexp.MustCompile(`(?m)^    rtmr[0-3]: .*\n`).ReplaceAllString(doc, "")
		var add strings.Builder
		for _, i := range pin {
			fmt.Fprintf(&add, "    rtmr%d: %q\n", i, hex.EncodeToString(r[i]))
		}
		if events {
			add.WriteString("    events:\n")
			for _, e := range release.Boot().Events() {
				fmt.Fprintf(&add, "    - {rtmr: %d, type: %s, digest: %q, description: %q, text: %q}\n", e.RTMR, e.Type, e.Digest, e.Description, e.Text)
			}
		}
		doc = strings.Replace(doc, "  minimumTeeTcbSvn:", strings.TrimSuffix(add.String(), "\n")+"\n  minimumTeeTcbSvn:", 1)
		return doc + extra
	})
}

func TestEventLogReplayPasses(t *testing.T) {
	m := bootMachine("el-pass")
	p := releasePolicy(t, m, []int{0, 1, 2}, true, "")
	vd := newTestVerifier(nil, nil).Verify(logEvidence(t, m), p, testNonce[:])
	requirePass(t, vd)
	c, _ := vd.Check("eventlog")
	if !c.Pass || c.Skipped || len(vd.Events) != 7 || !strings.Contains(c.Measured, "RTMR3 has no logged events") {
		t.Fatalf("eventlog check %+v, %d events", c, len(vd.Events))
	}
}

func TestEventLogOneChangedEventFails(t *testing.T) {
	m := bootMachine("el-changed")
	p := releasePolicy(t, m, []int{0, 1, 2}, false, "")
	events := m.Boot().Events()
	events[3] = eventlog.NewEvent(1, eventlog.EvEFIBootServicesApplication, []byte("another kernel"), []byte("kernel: vmlinuz-evil"))
	raw, err := eventlog.Encode(events)
	if err != nil {
		t.Fatal(err)
	}
	ev := logEvidence(t, m)
	ev.EventLog = raw
	vd := newTestVerifier(nil, nil).Verify(ev, p, testNonce[:])
	requireFail(t, vd, "eventlog", "RTMR1: the event log replays to")
	if !strings.Contains(vd.Reason, `the last events extending RTMR1: #4 RTMR1 EV_EFI_BOOT_SERVICES_APPLICATION kernel: "kernel: vmlinuz-evil"`) {
		t.Fatalf("reason does not name the event: %s", vd.Reason)
	}
}

func TestEventLogUnparsableFails(t *testing.T) {
	m := bootMachine("el-bad")
	ev := logEvidence(t, m)
	ev.EventLog = ev.EventLog[:70]
	vd := newTestVerifier(nil, nil).Verify(ev, releasePolicy(t, m, []int{2}, false, ""), testNonce[:])
	requireFail(t, vd, "eventlog", "the event log does not parse: event log:")
	ev.EventLog = []byte("not a log")
	requireFail(t, newTestVerifier(nil, nil).Verify(ev, releasePolicy(t, m, []int{2}, false, ""), testNonce[:]), "eventlog", "not a TCG2 crypto-agile log")
}

func TestEventLogAbsent(t *testing.T) {
	m := bootMachine("el-none")
	ev := tdxEvidence(t, m, testNonce)
	vd := newTestVerifier(nil, nil).Verify(ev, releasePolicy(t, m, []int{2}, false, ""), testNonce[:])
	requirePass(t, vd)
	if c, _ := vd.Check("eventlog"); !c.Skipped || !strings.Contains(c.Detail, "carries no CCEL event log") {
		t.Fatalf("eventlog check %+v", c)
	}
	vd = newTestVerifier(nil, nil).Verify(ev, releasePolicy(t, m, []int{2}, false, "  requireEventLog: true\n"), testNonce[:])
	requireFail(t, vd, "eventlog", "tdx.requireEventLog")
}

func TestChangedCmdlineNamedWithOldAndNew(t *testing.T) {
	release := bootMachine("release")
	node := tee.NewTDXMachine(tee.TDXOptions{Name: "node", Faults: []tee.Fault{tee.FaultChangedCmdline}})
	want := `kernel command line changed: "console=ttyS0 root=/dev/vda1 ro" → "console=ttyS0 root=/dev/vda1 ro agent.guest_components_rest_api=all"`
	// The release's events pinned (as add-release writes them), with and
	// without the RTMR values.
	for _, pin := range [][]int{{0, 1, 2}, nil} {
		vd := newTestVerifier(nil, nil).Verify(logEvidence(t, node), releasePolicy(t, release, pin, true, ""), testNonce[:])
		requireFail(t, vd, "measurement", want)
		t.Log(vd.Reason)
		if !strings.Contains(vd.Reason, "RTMR2 is ") || strings.Contains(vd.Reason, "RTMR1 is ") {
			t.Fatalf("reason: %s", vd.Reason)
		}
	}
	// Only RTMR2 pinned: the measured command line is named.
	vd := newTestVerifier(nil, nil).Verify(logEvidence(t, node), releasePolicy(t, release, []int{2}, false, ""), testNonce[:])
	requireFail(t, vd, "measurement", `kernel command line: "console=ttyS0 root=/dev/vda1 ro agent.guest_components_rest_api=all"`)
	// Without a log the register is still named.
	vd = newTestVerifier(nil, nil).Verify(tdxEvidence(t, node, testNonce), releasePolicy(t, release, []int{2}, false, ""), testNonce[:])
	requireFail(t, vd, "measurement", "RTMR2 is ")
}

func TestPolicyEventsMustReplayToPinnedRTMR(t *testing.T) {
	m := bootMachine("el-policy")
	data := `apiVersion: cctest.dev/v1alpha1
kind: AttestationPolicy
name: x
tdx:
  allowedMeasurements:
  - name: r
    mrtd: ` + hex.EncodeToString(m.MRTD()) + `
    rtmr2: "` + strings.Repeat("00", 48) + `"
    events:
    - {rtmr: 2, digest: "` + strings.Repeat("11", 48) + `"}
    - {rtmr: 7, digest: ab}
`
	_, err := policy.Load([]byte(data))
	if err == nil || !strings.Contains(err.Error(), "events[1].rtmr: must be 0-3") || !strings.Contains(err.Error(), "events[1].digest") {
		t.Fatalf("err = %v", err)
	}
	data = strings.Replace(data, "    - {rtmr: 7, digest: ab}\n", "", 1)
	if _, err := policy.Load([]byte(data)); err == nil || !strings.Contains(err.Error(), "the events of RTMR2 replay to") {
		t.Fatalf("err = %v", err)
	}
}

// The release gate end to end: a node of a new release fails the current
// policy; measuring a trusted machine of that release and adding the record
// makes it pass, while the changed command line stays refused.
func TestAddReleaseMakesNewReleasePass(t *testing.T) {
	b := tee.DefaultBootChain()
	b.Kernel = "vmlinuz-6.9.1-cctest"
	newNode := tee.NewTDXMachine(tee.TDXOptions{Name: "new-node", Boot: &b})
	doc, err := fixtures.Read("policies/tdx-simulated.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc = []byte(noCollateral(string(doc)))
	p, err := policy.Load(doc)
	if err != nil {
		t.Fatal(err)
	}
	requireFail(t, newTestVerifier(nil, nil).Verify(logEvidence(t, newNode), p, testNonce[:]), "measurement", "matches no allowed measurement")

	trusted := tee.NewTDXMachine(tee.TDXOptions{Name: "trusted", Boot: &b})
	rec, err := MeasureRelease(logEvidence(t, trusted), "node-2026.12", "gcp-c3", "c3-standard-8", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.TDX.Events) != 7 || rec.TDX.Events[5].Description != "kernel command line" {
		t.Fatalf("record events: %+v", rec.TDX.Events)
	}
	edited, err := release.AddToPolicy(doc, rec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(edited), "# Attestation policy for SIMULATED Intel TDX machines") {
		t.Fatal("comments lost")
	}
	p2, err := policy.Load(edited)
	if err != nil {
		t.Fatal(err)
	}
	vd := newTestVerifier(nil, nil).Verify(logEvidence(t, newNode), p2, testNonce[:])
	requirePass(t, vd)
	if vd.MatchedImage != "node-2026.12" {
		t.Fatalf("matched %q", vd.MatchedImage)
	}
	bad := tee.NewTDXMachine(tee.TDXOptions{Name: "bad", Boot: &b, Faults: []tee.Fault{tee.FaultChangedCmdline}})
	requireFail(t, newTestVerifier(nil, nil).Verify(logEvidence(t, bad), p2, testNonce[:]), "measurement",
		`kernel command line changed: "console=ttyS0 root=/dev/vda1 ro" → "console=ttyS0 root=/dev/vda1 ro agent.guest_components_rest_api=all"`)
	// A log that does not replay is refused by measure too.
	ev := logEvidence(t, trusted)
	ev.EventLog = bootMachine("other").EventLog()
	if _, err := MeasureRelease(ev, "x", "", "", time.Now()); err == nil || !strings.Contains(err.Error(), "eventlog: RTMR1") {
		t.Fatalf("measure with a foreign log: %v", err)
	}
}
