package verifier

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cctest/cctest/attest/trust"
	"github.com/cctest/cctest/simulators/tee"
)

func forecastVerdict(t *testing.T, pcs *tee.PCS, edit func(string) string) Verdict {
	t.Helper()
	ev := tdxEvidence(t, tee.NewTDXMachine(tee.TDXOptions{Name: "forecast"}), testNonce)
	p := editedPolicy(t, "tdx-simulated.yaml", edit)
	vd := newTestVerifier(pcs, nil).Verify(ev, p, testNonce[:])
	requirePass(t, vd) // the forecast never fails a verdict
	if vd.TDXTCBForecast == nil {
		t.Fatal("verdict has no tdxTcbForecast")
	}
	return vd
}

func warnPolicy(doc string) string {
	return strings.Replace(withCollateral(doc), "tdx:\n", "tdx:\n  warnUpcomingOutOfDate: true\n", 1)
}

func TestTDXTCBForecastTDXModule(t *testing.T) {
	fixed := time.Now()
	vd := forecastVerdict(t, &tee.PCS{Now: func() time.Time { return fixed }}, withCollateral)
	f := vd.TDXTCBForecast
	want := fixed.Add(14 * 24 * time.Hour).UTC().Truncate(24 * time.Hour)
	if !f.Available || !f.Pending || f.Status != "OutOfDate" || f.CurrentStatus != "UpToDate" ||
		f.StandardEvaluationDataNumber != 17 || f.EarlyEvaluationDataNumber != 18 || f.EffectiveDate == nil || !f.EffectiveDate.Equal(want) {
		t.Fatalf("forecast = %+v", f)
	}
	if got := f.Components(); len(got) != 1 || got[0] != "TDX module" {
		t.Errorf("components = %+v", f.ComponentsToUpdate)
	}
	if d := f.ComponentsToUpdate[0].Detail; d != "TEE_TCB_SVN[0] (TDX Module, OS/VMM) 3 → 4" {
		t.Errorf("detail = %q", d)
	}
	for _, w := range []string{"this platform is OutOfDate from " + want.Format("2006-01-02"), "advisories INTEL-SA-99999",
		"update TDX module: TEE_TCB_SVN[0]", ForecastInformational} {
		if !strings.Contains(f.Summary, w) {
			t.Errorf("summary %q lacks %q", f.Summary, w)
		}
	}
	if len(vd.Notes) != 0 {
		t.Errorf("no warning without tdx.warnUpcomingOutOfDate: %v", vd.Notes)
	}
	js, _ := json.Marshal(vd)
	for _, w := range []string{`"tdxTcbForecast":{"available":true,"pending":true,"status":"OutOfDate","currentStatus":"UpToDate"`,
		`"standardEvaluationDataNumber":17,"earlyEvaluationDataNumber":18,"effectiveDate":"` + want.Format(time.RFC3339) + `"`,
		`"componentsToUpdate":[{"component":"TDX module"`} {
		if !bytes.Contains(js, []byte(w)) {
			t.Errorf("verdict JSON lacks %s\n%s", w, js)
		}
	}
	var table bytes.Buffer
	_ = vd.WriteTable(&table)
	if !strings.Contains(table.String(), "tcb forecast: under the early TCB info (tcbEvaluationDataNumber 18, standard 17) this platform is OutOfDate from ") ||
		!strings.Contains(table.String(), "forecast collateral: early TCB info (FMSPC") {
		t.Errorf("table:\n%s", table.String())
	}

	// The policy switch makes it a warning note; the verdict still passes.
	vd = forecastVerdict(t, nil, warnPolicy)
	if len(vd.Notes) != 1 || !strings.HasPrefix(vd.Notes[0], "warning (tdx.warnUpcomingOutOfDate): under the early TCB info") {
		t.Errorf("notes = %v", vd.Notes)
	}
	// A cached chain keeps the forecast.
	v := newTestVerifier(nil, nil)
	ev := tdxEvidence(t, tee.NewTDXMachine(tee.TDXOptions{Name: "forecast-cache"}), testNonce)
	p := editedPolicy(t, "tdx-simulated.yaml", warnPolicy)
	v.Verify(ev, p, testNonce[:])
	vd = v.Verify(ev, p, testNonce[:])
	if !vd.ChainCached || vd.TDXTCBForecast == nil || vd.TDXTCBForecast.Status != "OutOfDate" || len(vd.Notes) != 1 {
		t.Errorf("cached: cached=%v forecast=%+v notes=%v", vd.ChainCached, vd.TDXTCBForecast, vd.Notes)
	}
}

func TestTDXTCBForecastMicrocodeAndNone(t *testing.T) {
	f := forecastVerdict(t, &tee.PCS{EarlyRecovery: "microcode"}, withCollateral).TDXTCBForecast
	if f.Status != "OutOfDate" || len(f.ComponentsToUpdate) != 1 || f.ComponentsToUpdate[0].Component != "microcode / BIOS" ||
		f.ComponentsToUpdate[0].Detail != "SGX TCB component 1 (SGX Late Microcode Update, OS/VMM) 5 → 6" {
		t.Errorf("microcode forecast = %+v", f)
	}
	f = forecastVerdict(t, &tee.PCS{EarlyRecovery: "none"}, warnPolicy).TDXTCBForecast
	if !f.Available || f.Pending || f.Status != "UpToDate" || f.EffectiveDate == nil ||
		!strings.HasPrefix(f.Summary, "no TCB recovery pending: the early TCB info is the standard one (tcbEvaluationDataNumber 17)") {
		t.Errorf("no recovery: %+v", f)
	}
}

func TestTDXTCBForecastTamperedRefused(t *testing.T) {
	vd := forecastVerdict(t, &tee.PCS{TamperEarly: true}, warnPolicy)
	f := vd.TDXTCBForecast
	const want = "early TCB info: the signature does not verify with the Intel SGX TCB Signing key: the body was altered after Intel signed it"
	if f.Available || f.Refused != want || f.Status != "" {
		t.Fatalf("tampered early TCB info: %+v", f)
	}
	if len(vd.Notes) != 1 || !strings.Contains(vd.Notes[0], "TCB forecast refused: "+want) {
		t.Errorf("notes = %v", vd.Notes)
	}
}

func TestTDXTCBForecastReplayWithoutEarly(t *testing.T) {
	dir := t.TempDir()
	ev := tdxEvidence(t, tee.NewTDXMachine(tee.TDXOptions{Name: "replay"}), testNonce)
	roots := func(d *CollateralDir) *trust.Roots {
		r := tee.TestRoots()
		r.TDXGetter = d.TDXGetter()
		return r
	}
	p := editedPolicy(t, "tdx-simulated.yaml", withCollateral)
	// Recorded from a PCS mirror that keeps standard collateral only.
	online := &CollateralDir{Dir: dir, TDX: tee.TDXGetter{Handler: &tee.PCS{NoEarly: true}}}
	requirePass(t, New(Options{TestRoots: roots(online), DisableCache: true}).Verify(ev, p, testNonce[:]))
	vd := New(Options{TestRoots: roots(&CollateralDir{Dir: dir}), DisableCache: true}).Verify(ev, p, testNonce[:])
	requirePass(t, vd)
	f := vd.TDXTCBForecast
	if f == nil || f.Available || f.Refused != "" || !strings.Contains(f.Unavailable, "is not recorded in "+dir) ||
		!strings.HasPrefix(f.Summary, "TCB forecast unavailable: the early TCB info could not be fetched: collateral for "+EarlyTcbInfoURL("50806f000000")) ||
		!strings.Contains(f.Summary, "not an error") {
		t.Fatalf("forecast = %+v", f)
	}
	// Recorded with early collateral, the replay forecasts offline.
	dir2 := t.TempDir()
	requirePass(t, New(Options{TestRoots: roots(&CollateralDir{Dir: dir2, TDX: tee.TDXGetter{Handler: tee.NewPCS()}}), DisableCache: true}).Verify(ev, p, testNonce[:]))
	vd = New(Options{TestRoots: roots(&CollateralDir{Dir: dir2}), DisableCache: true}).Verify(ev, p, testNonce[:])
	if f := vd.TDXTCBForecast; f == nil || !f.Available || f.Status != "OutOfDate" || f.EffectiveDate == nil {
		t.Errorf("replayed forecast = %+v", f)
	}
}

// Bad PCS answers are refused with a message, never a panic.
func TestVerifySignedPCSBadInput(t *testing.T) {
	pool := tee.TestRoots().IntelPool()
	h := map[string][]string{"Tcb-Info-Issuer-Chain": {"%zz"}}
	for _, c := range []struct {
		h    map[string][]string
		body string
		want string
	}{
		{nil, `{}`, "has no Tcb-Info-Issuer-Chain header"},
		{h, `{}`, "Tcb-Info-Issuer-Chain header: invalid URL escape"},
		{map[string][]string{"Tcb-Info-Issuer-Chain": {"junk"}}, `{}`, "holds 0 certificates"},
	} {
		_, err := verifySignedPCS("x", c.h, []byte(c.body), "Tcb-Info-Issuer-Chain", "tcbInfo", pool, nil, time.Now())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("err = %v, want %q", err, c.want)
		}
	}
	// A genuine answer with a broken body.
	hdr, body, err := tee.TDXGetter{Handler: tee.NewPCS()}.Get(EarlyTcbInfoURL("50806f000000"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifySignedPCS("early TCB info", hdr, body, "Tcb-Info-Issuer-Chain", "tcbInfo", pool, nil, time.Now()); err != nil {
		t.Fatalf("genuine early TCB info: %v", err)
	}
	for _, b := range []string{"", "[]", `{"tcbInfo":{}}`, `{"tcbInfo":{},"signature":"00"}`} {
		if _, err := verifySignedPCS("early TCB info", hdr, []byte(b), "Tcb-Info-Issuer-Chain", "tcbInfo", pool, nil, time.Now()); err == nil {
			t.Errorf("body %q accepted", b)
		}
	}
	// Vendor roots refuse the test signer.
	if _, err := verifySignedPCS("early TCB info", hdr, body, "Tcb-Info-Issuer-Chain", "tcbInfo", trust.IntelVendorPool(), nil, time.Now()); err == nil ||
		!strings.Contains(err.Error(), "does not chain to the trusted root") {
		t.Errorf("vendor pool: %v", err)
	}
}

// tamperedNumbers alters the evaluation data numbers after the PCS signed them.
type tamperedNumbers struct{ pcs *tee.PCS }

func (h tamperedNumbers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	h.pcs.ServeHTTP(rec, r)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	body := rec.Body.Bytes()
	if strings.HasSuffix(r.URL.Path, "/tcbevaluationdatanumbers") {
		body = bytes.Replace(body, []byte(`"tcbEvaluationDataNumber":18`), []byte(`"tcbEvaluationDataNumber":19`), 1)
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

func TestTDXTCBForecastTamperedNumbersRefused(t *testing.T) {
	ev := tdxEvidence(t, tee.NewTDXMachine(tee.TDXOptions{Name: "numbers"}), testNonce)
	roots := tee.TestRoots()
	roots.TDXGetter = tee.TDXGetter{Handler: tamperedNumbers{tee.NewPCS()}}
	vd := New(Options{TestRoots: roots, DisableCache: true}).Verify(ev, editedPolicy(t, "tdx-simulated.yaml", withCollateral), testNonce[:])
	requirePass(t, vd)
	if f := vd.TDXTCBForecast; f == nil || f.Available ||
		f.Refused != "TCB evaluation data numbers: the signature does not verify with the Intel SGX TCB Signing key: the body was altered after Intel signed it" {
		t.Fatalf("forecast = %+v", f)
	}
}
