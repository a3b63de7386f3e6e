package reports

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/onsi/ginkgo/v2/types"
)

// chromiumPath finds the browser for the page tests: $CCTEST_CHROMIUM, else
// chromium, chromium-browser or google-chrome on PATH. Without one the test
// skips, except in CI (CI=true), which installs it (.ci/install-chromium.sh).
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CCTEST_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("CCTEST_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium on PATH (chromium, chromium-browser, google-chrome) and CCTEST_CHROMIUM unset: " +
		"the HTML report's browser test needs one; install it with .ci/install-chromium.sh"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: CI must install it)")
	}
	t.Skip(msg)
	return ""
}

// artifactDir is where screenshots go: $CCTEST_ARTIFACTS, else the test's
// temporary directory.
func artifactDir(t *testing.T) string {
	if d := os.Getenv("CCTEST_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// console collects what the page writes to the console.
type console struct {
	mu   sync.Mutex
	msgs []chromedp.ConsoleMessage
	stop context.CancelFunc
	done chan struct{}
}

func listenConsole(ctx context.Context) *console {
	ctx, stop := context.WithCancel(ctx)
	c := &console{stop: stop, done: make(chan struct{})}
	msgs := chromedp.Console(ctx)
	go func() {
		defer close(c.done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, m)
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *console) close() []chromedp.ConsoleMessage {
	c.stop()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.msgs
}

func newBrowser(t *testing.T) context.Context {
	t.Helper()
	bin := chromiumPath(t)
	// Flags from /work/shared/docs/libraries.md: headless, no sandbox (root
	// in containers), nothing that talks to the network.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser on the context itself (a timeout there would end it).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	return ctx
}

func writePage(t *testing.T, r types.Report) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "report.html")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(f, r); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

const visibleSpecs = `Array.from(document.querySelectorAll("tr.spec")).filter(r => r.offsetParent !== null).length`

// expected counts the report's specs with a label and/or a state.
func expected(r types.Report, label, state string) int {
	n := 0
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		hasLabel := label == ""
		for _, l := range s.Labels() {
			hasLabel = hasLabel || l == label
		}
		if hasLabel && (state == "" || s.State.String() == state) {
			n++
		}
	}
	return n
}

// The page of a real failing run in headless Chromium: no console errors,
// nothing loaded, the label and status filters work (by selecting, by
// clicking a count, by clicking a label, by typing), links reveal specs.
func TestBrowserReportOfARealRun(t *testing.T) {
	start := time.Now()
	ctx := newBrowser(t)
	r := mustLoad(t, "testdata/tampered-quote.json")
	con := listenConsole(ctx)
	step, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(step, chromedp.Navigate(writePage(t, r)), chromedp.WaitReady(chromedp.CSS("#f-shown"))); err != nil {
		t.Fatal(err)
	}

	if v := eval[string](t, step, `document.getElementById("verdict").textContent`); v != "FAIL" {
		t.Errorf("verdict %q", v)
	}
	total := expected(r, "", "")
	if n := eval[int](t, step, visibleSpecs); n != total {
		t.Fatalf("%d specs visible before filtering, want %d", n, total)
	}
	if s := eval[string](t, step, `document.getElementById("f-shown").textContent`); s != fmt.Sprintf("%d of %d specs shown", total, total) {
		t.Errorf("counter %q", s)
	}

	// The filters below each select some specs but not all.
	for _, f := range [][2]string{{"egress", ""}, {"auto-nodes", "passed"}, {"auto-nodes", "failed"}, {"", "failed"}, {"tenancy", ""}} {
		if n := expected(r, f[0], f[1]); n == 0 || n == total {
			t.Fatalf("filter %q selects %d of %d specs: not a test of filtering", f, n, total)
		}
	}
	choose := func(id, value string) {
		t.Helper()
		if err := chromedp.Do(step,
			chromedp.SetValue(chromedp.CSS("#"+id), value),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("`+id+`").dispatchEvent(new Event("change"))`),
		); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, want int) {
		t.Helper()
		if n := eval[int](t, step, visibleSpecs); n != want {
			t.Errorf("%s: %d specs visible, want %d", what, n, want)
		}
	}
	choose("f-label", "egress")
	check("label egress", expected(r, "egress", ""))
	choose("f-status", "passed")
	check("label egress and passed", expected(r, "egress", "passed")) // none: both failed
	choose("f-label", "auto-nodes")
	check("label auto-nodes and passed", expected(r, "auto-nodes", "passed"))
	choose("f-status", "failed")
	check("label auto-nodes and failed", expected(r, "auto-nodes", "failed"))

	// Clicking the "13 failed" count in the banner filters by status only
	// after "Show all"; clicking a label chip sets the label filter.
	if err := chromedp.Do(step, chromedp.Click(chromedp.CSS("#f-reset")), chromedp.Click(chromedp.CSS(`button.count[data-status="failed"]`))); err != nil {
		t.Fatal(err)
	}
	check("clicked the failed count", expected(r, "", "failed"))
	if err := chromedp.Do(step, chromedp.Click(chromedp.CSS("#f-reset")), chromedp.Click(chromedp.CSS(`tr.spec button.label[data-label="tenancy"]`))); err != nil {
		t.Fatal(err)
	}
	check("clicked the tenancy label", expected(r, "tenancy", ""))
	if err := chromedp.Do(step, chromedp.Click(chromedp.CSS("#f-reset")), chromedp.SendKeys(chromedp.CSS("#f-text"), "re-attested")); err != nil {
		t.Fatal(err)
	}
	check("typed re-attested", 1)

	// A link from the timing chart to a filtered-out spec shows and opens it.
	target := eval[string](t, step, `Array.from(document.querySelectorAll("tr.spec")).find(r => r.hidden).id`)
	if err := chromedp.Do(step, chromedp.Evaluate[chromedp.Void](`location.hash = "#`+target+`"`), chromedp.Sleep(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if ok := eval[bool](t, step, `(() => { const r = document.getElementById("`+target+`"); return !r.hidden && r.querySelector("details").open })()`); !ok {
		t.Errorf("following #%s did not reveal the spec", target)
	}
	if err := chromedp.Do(step, chromedp.Click(chromedp.CSS("#f-reset"))); err != nil {
		t.Fatal(err)
	}
	check("show all", total)

	if n := eval[int](t, step, `performance.getEntriesByType("resource").length`); n != 0 {
		t.Errorf("the page loaded %d resources", n)
	}
	shot, err := chromedp.Run(step, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(artifactDir(t), "report-tampered-quote.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d KiB)", path, len(shot)>>10)

	for _, m := range con.close() {
		if m.Type == chromedp.ConsoleError || m.IsException() {
			t.Errorf("console: %s (%s:%d)", m, m.URL, m.Line)
		} else {
			t.Logf("console: %s", m)
		}
	}
	t.Logf("browser test took %s", time.Since(start).Round(time.Millisecond))
}

// Markup from the cluster (event messages, names, failure messages) shows
// as text and runs nothing.
func TestBrowserShowsClusterMarkupAsText(t *testing.T) {
	ctx := newBrowser(t)
	con := listenConsole(ctx)
	step, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(step, chromedp.Navigate(writePage(t, roundTrip(t, synthetic(8)))), chromedp.WaitReady(chromedp.CSS("#f-shown"))); err != nil {
		t.Fatal(err)
	}
	if pwned := eval[string](t, step, `typeof window.__pwned`); pwned != "undefined" {
		t.Fatalf("a script from the report ran: window.__pwned is %s", pwned)
	}
	if n := eval[int](t, step, `document.scripts.length`); n != 1 {
		t.Errorf("%d script elements, want the page's own", n)
	}
	if n := eval[int](t, step, `document.querySelectorAll("img").length`); n != 0 {
		t.Errorf("%d img elements from the report", n)
	}
	text := eval[string](t, step, `document.body.innerText`)
	for _, where := range []string{
		"pod did not run: event FailedScheduling: " + xss, // failure message (open: the spec failed)
		"Warning Pod/x Failed: " + xss,                    // event in the diagnostics
		"pod node/" + xss,                                 // node/pod name in the evidence
		"Egress " + xssImg,                                // container text
	} {
		if !strings.Contains(text, where) {
			t.Errorf("not shown as text: %q", where)
		}
	}
	shot, err := chromedp.Run(step, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(artifactDir(t), "report-escaping.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	for _, m := range con.close() {
		if m.Type == chromedp.ConsoleError || m.IsException() {
			t.Errorf("console: %s (%s:%d)", m, m.URL, m.Line)
		}
	}
}

// A spec that passed only on a retry shows as flaky — its own badge and
// status filter — and never among the passes.
func TestBrowserShowsFlakySpecs(t *testing.T) {
	ctx := newBrowser(t)
	r := withOneFlaky(t, mustLoad(t, "testdata/tampered-quote.json"))
	step, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(step, chromedp.Navigate(writePage(t, r)), chromedp.WaitReady(chromedp.CSS("#f-shown"))); err != nil {
		t.Fatal(err)
	}
	passed := expected(r, "", "passed") - 1 // the flaky one is Ginkgo-passed
	for status, want := range map[string]int{"flaky": 1, "passed": passed} {
		if err := chromedp.Do(step,
			chromedp.SetValue(chromedp.CSS("#f-status"), status),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("f-status").dispatchEvent(new Event("change"))`),
		); err != nil {
			t.Fatal(err)
		}
		if n := eval[int](t, step, visibleSpecs); n != want {
			t.Errorf("status %s: %d specs visible, want %d", status, n, want)
		}
	}
	if b := eval[string](t, step, `document.querySelector("tr.spec.st-flaky .badge").textContent`); b != "flaky" {
		t.Errorf("flaky spec's badge %q", b)
	}
	if c := eval[string](t, step, `document.querySelector('button.count[data-status="flaky"]').textContent`); c != "1 flaky" {
		t.Errorf("banner count %q", c)
	}
}

// withOneFlaky marks the report's first passed spec as passing on its
// second of three attempts.
func withOneFlaky(t testing.TB, r types.Report) types.Report {
	for i, s := range r.SpecReports {
		if s.LeafNodeType == types.NodeTypeIt && s.State == types.SpecStatePassed {
			r.SpecReports[i].NumAttempts, r.SpecReports[i].MaxFlakeAttempts = 2, 3
			return r
		}
	}
	t.Fatal("no passed spec to make flaky")
	return r
}
