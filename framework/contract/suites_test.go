package contract

import (
	"go/ast"
	"go/constant"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
)

// qualifiedKey is the shape of a prefixed label or annotation key.
var qualifiedKey = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)

// use is one signal a spec reads, and where.
type use struct {
	kind Kind
	name string
	at   string
}

// specUses finds, with the type checker (so constants from other packages
// resolve), every signal the suites read: constant strings shaped like
// prefixed keys, keys of Labels / Annotations / NodeSelector lookups and of
// string-map literals, and the reasons passed to the event helpers.
func specUses(t *testing.T, pattern string) []use {
	t.Helper()
	cfg := &packages.Config{Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo, Dir: "../.."}
	pkgs, err := packages.Load(cfg, pattern)
	if err != nil {
		t.Fatal(err)
	}
	var uses []use
	for _, pkg := range pkgs {
		for _, e := range pkg.Errors {
			t.Fatalf("load %s: %v", pattern, e)
		}
		info := pkg.TypesInfo
		str := func(e ast.Expr) (string, bool) {
			tv, ok := info.Types[e]
			if !ok || tv.Value == nil || tv.Value.Kind() != constant.String {
				return "", false
			}
			return constant.StringVal(tv.Value), true
		}
		// keys records the constant keys of a map literal.
		keys := func(e ast.Expr, kind Kind, at string) {
			lit, ok := e.(*ast.CompositeLit)
			if !ok {
				return
			}
			for _, el := range lit.Elts {
				if kv, ok := el.(*ast.KeyValueExpr); ok {
					if s, ok := str(kv.Key); ok {
						uses = append(uses, use{kind, s, at})
					}
				}
			}
		}
		for _, f := range pkg.Syntax {
			ast.Inspect(f, func(n ast.Node) bool {
				at := func() string { return pkg.Fset.Position(n.Pos()).String() }
				switch n := n.(type) {
				case ast.Expr:
					if s, ok := str(n); ok && qualifiedKey.MatchString(s) {
						uses = append(uses, use{Label, s, at()})
					}
				}
				switch n := n.(type) {
				case *ast.IndexExpr:
					if sel, ok := n.X.(*ast.SelectorExpr); ok {
						kind := map[string]Kind{"Labels": Label, "NodeSelector": Label, "Annotations": Annotation}[sel.Sel.Name]
						if s, ok := str(n.Index); ok && kind != "" {
							uses = append(uses, use{kind, s, at()})
						}
					}
				case *ast.KeyValueExpr:
					// Labels: map[string]string{...}, selector: ..., MatchLabels: ...
					if id, ok := n.Key.(*ast.Ident); ok && labelFields[id.Name] {
						keys(n.Value, Label, at())
					}
					if id, ok := n.Key.(*ast.Ident); ok && id.Name == "Annotations" {
						keys(n.Value, Annotation, at())
					}
				case *ast.ValueSpec:
					// var terminalReasons = map[string]bool{...}
					for i, name := range n.Names {
						if strings.HasSuffix(name.Name, "Reasons") && i < len(n.Values) {
							keys(n.Values[i], EventReason, at())
						}
					}
				case *ast.CallExpr:
					if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "expectLabels" && len(n.Args) == 2 {
						keys(n.Args[1], Label, at())
					}
					if sel, ok := n.Fun.(*ast.SelectorExpr); ok && (sel.Sel.Name == "events" || sel.Sel.Name == "waitEvent") && len(n.Args) >= 4 {
						if s, ok := str(n.Args[3]); ok && s != "" {
							uses = append(uses, use{EventReason, s, at()})
						}
					}
				}
				return true
			})
		}
	}
	return uses
}

// labelFields are struct fields and keys whose map literal holds label keys.
var labelFields = map[string]bool{"Labels": true, "NodeSelector": true, "MatchLabels": true, "selector": true, "labels": true}

// Every key and reason a spec reads is on the contract, and none is the
// simulator's own bookkeeping.
func TestSpecsReadOnlyTheContract(t *testing.T) {
	uses := specUses(t, "./suites")
	if len(uses) < 10 {
		t.Fatalf("found only %d signal uses in the suites: the scan is broken", len(uses))
	}
	seen := map[string]bool{}
	for _, u := range uses {
		// A prefixed key may be a label or an annotation.
		_, okL := Readable(Label, u.name)
		_, okA := Readable(Annotation, u.name)
		ok := okL || okA
		if u.kind == EventReason {
			_, ok = Readable(EventReason, u.name)
		}
		if !ok && !seen[u.name] {
			seen[u.name] = true
			t.Errorf("%s: a spec reads %s %q, which is not on the contract (framework/contract): name its source there, or read a real signal instead", u.at, u.kind, u.name)
		}
	}
}

// The scan sees what it must: planted uses of an invented label, annotation
// and event reason are each reported.
func TestScanFindsInventedSignals(t *testing.T) {
	uses := specUses(t, "./framework/contract/testdata/invented")
	want := map[string]Kind{"cctest.dev/machine": Label, "example.com/invented": Annotation, "NoMatchingNodeType": EventReason, "plain-key": Label, "Invented": EventReason}
	for _, u := range uses {
		if k, ok := want[u.name]; ok && (k == u.kind || u.kind == Label) {
			delete(want, u.name)
		}
	}
	for name, kind := range want {
		t.Errorf("the scan missed %s %q", kind, name)
	}
	for _, u := range uses {
		if _, ok := Readable(u.kind, u.name); ok && strings.Contains(u.name, "invented") {
			t.Errorf("%q is readable", u.name)
		}
	}
}
