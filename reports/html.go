package reports

import (
	"bufio"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"io"
	"strings"

	"github.com/onsi/ginkgo/v2/types"
)

//go:embed assets/page.html.tmpl assets/page.css assets/page.js
var assets embed.FS

var (
	pageCSS  = mustAsset("assets/page.css")
	pageJS   = mustAsset("assets/page.js")
	pageTmpl = template.Must(template.New("page.html.tmpl").Funcs(template.FuncMap{
		"join":  strings.Join,
		"lower": strings.ToLower,
		"short": func(s string) string {
			if len(s) <= 24 {
				return s
			}
			return s[:20] + "…"
		},
	}).ParseFS(assets, "assets/page.html.tmpl"))
	// The page's Content-Security-Policy: nothing is loaded from anywhere,
	// and the only script that may run is the page's own (by hash), so even
	// markup that slipped past escaping could not run code or phone home.
	pageCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; " +
		"script-src '" + scriptHash(pageJS) + "'; base-uri 'none'; form-action 'none'"
)

func mustAsset(name string) string {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func scriptHash(js string) string {
	sum := sha256.Sum256([]byte(js))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// Option changes what the page shows.
type Option func(*options)

type options struct{ baseline *types.Report }

// WithBaseline adds what changed since an earlier run: specs whose outcome
// changed, node types' verdicts, measurements and TCBs (see Compare).
func WithBaseline(base types.Report) Option { return func(o *options) { o.baseline = &base } }

// WriteHTML renders the report as one self-contained HTML page: no external
// assets, opens from file:// offline. Every string from the report is
// escaped by html/template for the context it lands in.
func WriteHTML(w io.Writer, r types.Report, opts ...Option) error {
	var o options
	for _, f := range opts {
		f(&o)
	}
	p := newPage(r)
	if o.baseline != nil {
		p.Baseline = &baselineView{Name: o.baseline.StartTime.UTC().Format("2006-01-02 15:04:05 UTC"), Changes: Compare(*o.baseline, r).Lines()}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	err := pageTmpl.Execute(bw, struct {
		P   *page
		CSS template.CSS
		JS  template.JS
		CSP string
	}{p, template.CSS(pageCSS), template.JS(pageJS), pageCSP})
	if err != nil {
		return err
	}
	return bw.Flush()
}
