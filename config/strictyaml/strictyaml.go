// Package strictyaml decodes YAML into Go structs the strict way: a key the
// target type does not declare (by its json tag) is an error naming the field,
// its path (a.b[0].c) and its line. All problems of a document are collected,
// not just the first. It exists because sigs.k8s.io/yaml drops line numbers
// and stops at the first error.
//
// Types with custom JSON decoding (resource.Quantity, metav1.Time,
// intstr.IntOrString, ...) are decoded through their UnmarshalJSON, so
// k8s.io/api types decode as the API server would decode them.
package strictyaml

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Pos is a 1-based line and column in the source.
type Pos struct{ Line, Column int }

// Error is one decoding problem.
type Error struct {
	Path string
	Pos  Pos
	Msg  string
}

func (e Error) Error() string {
	p := e.Path
	if p == "" {
		p = "(document)"
	}
	if e.Pos.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", e.Pos.Line, p, e.Msg)
	}
	return p + ": " + e.Msg
}

// Positions maps a path (as in Error.Path) to where it is in the source.
// For a mapping entry it is the key's position.
type Positions map[string]Pos

// Limits that keep hostile input cheap. Aliases let a few bytes stand for
// a huge document (a "billion laughs"), and every node visited costs a field
// path and a Positions entry, so the document is bounded after alias
// expansion both in nodes and in the bytes of those paths (deep nesting
// times long keys). An alias to a node that contains it is an error, not an
// expansion. For scale: the vCluster chart's complete values.yaml is about
// 700 nodes and 27 KiB of paths.
const (
	MaxDepth     = 200     // nesting levels
	MaxNodes     = 50_000  // nodes visited, counting every alias and merge key expansion
	MaxPathBytes = 8 << 20 // bytes of field paths of the nodes visited
	MaxErrors    = 1000    // problems collected before decoding stops
)

// Documents parses possibly multi-document YAML. Empty documents are
// skipped. A syntax error is returned with its line.
func Documents(data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return docs, fmt.Errorf("YAML syntax: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		if body := Body(&n); body != nil && body.Kind != 0 && !(body.Kind == yaml.ScalarNode && body.Tag == "!!null") {
			docs = append(docs, &n)
		}
	}
}

// Body returns the content of a document node (or n itself).
func Body(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return n.Content[0]
	}
	return n
}

// Decode decodes n (a document or any node) into v, a non-nil pointer.
// base prefixes every path (e.g. "spec"). It returns the position of every
// path it visited and the problems found (at most MaxErrors; a document over
// a limit ends with one problem naming the limit).
func Decode(n *yaml.Node, v any, base string) (Positions, []Error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, []Error{{Path: base, Msg: "internal: Decode needs a non-nil pointer"}}
	}
	d := newDecoder(Positions{})
	body := Body(n)
	if body == nil {
		return d.pos, nil
	}
	d.pos[base] = Pos{body.Line, body.Column}
	d.decode(body, rv.Elem(), base, 0)
	return d.pos, d.errs
}

// Generic converts a node to JSON-compatible Go values (map[string]any,
// []any, string, bool, int64, float64, nil). The error is the first problem
// (a duplicate key, a recursive alias, a limit).
func Generic(n *yaml.Node) (any, error) {
	d := newDecoder(nil)
	v := d.generic(Body(n), "", 0)
	if len(d.errs) > 0 {
		return v, d.errs[0]
	}
	return v, nil
}

type decoder struct {
	pos       Positions // nil: not wanted
	errs      []Error
	nodes     int
	pathBytes int
	// stopped is set once a limit is hit: everything still on the stack
	// returns without further work.
	stopped bool
	// active holds the anchored nodes being expanded, to reject an alias
	// to a node that contains it (which would otherwise expand forever).
	active      map[*yaml.Node]bool
	suggestions map[suggestKey]string
}

type suggestKey struct {
	t   reflect.Type
	key string
}

func newDecoder(pos Positions) *decoder {
	return &decoder{pos: pos, active: map[*yaml.Node]bool{}, suggestions: map[suggestKey]string{}}
}

func (d *decoder) fail(n *yaml.Node, path, format string, a ...any) {
	if d.stopped {
		return
	}
	if len(d.errs) == MaxErrors {
		d.stop(n, path, "too many problems: stopped after %d", MaxErrors)
		return
	}
	d.addErr(n, path, fmt.Sprintf(format, a...))
}

// stop records why decoding stopped (always, even past MaxErrors) and stops.
func (d *decoder) stop(n *yaml.Node, path, format string, a ...any) {
	if d.stopped {
		return
	}
	d.addErr(n, path, fmt.Sprintf(format, a...))
	d.stopped = true
}

func (d *decoder) addErr(n *yaml.Node, path, msg string) {
	e := Error{Path: path, Msg: msg}
	if n != nil {
		e.Pos = Pos{n.Line, n.Column}
	}
	d.errs = append(d.errs, e)
}

func (d *decoder) setPos(path string, n *yaml.Node) {
	if d.pos != nil {
		d.pos[path] = Pos{n.Line, n.Column}
	}
}

var jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()

// plainKey reports whether key matches [A-Za-z_][A-Za-z0-9_-]* (written out
// because it runs for every mapping key).
func plainKey(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case (c >= '0' && c <= '9') || c == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// Child joins a path and a mapping key; keys with dots or slashes (label
// keys) are bracketed so the path stays unambiguous.
func Child(path, key string) string {
	if !plainKey(key) {
		return fmt.Sprintf("%s[%q]", path, key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// Index joins a path and a sequence index.
func Index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// enter follows an alias and marks an anchored node as being expanded.
// For an alias to a node that contains it (an endless expansion) it reports
// the alias and returns false. Call leave with the node when done with it.
func (d *decoder) enter(n *yaml.Node, path string) (*yaml.Node, bool) {
	orig := n
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	if n == nil || n.Anchor == "" {
		return n, true
	}
	if d.active[n] {
		d.fail(orig, path, "recursive alias: *%s refers to the node anchored &%s (line %d) that contains it", n.Anchor, n.Anchor, n.Line)
		return nil, false
	}
	d.active[n] = true
	return n, true
}

func (d *decoder) leave(n *yaml.Node) {
	if n != nil && n.Anchor != "" {
		delete(d.active, n)
	}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strings.TrimPrefix(n.Tag, "!!") + " " + strconv.Quote(n.Value)
	}
	return "unknown node"
}

func isNull(n *yaml.Node) bool { return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") }

// budget charges one node at path against the limits; false means stop.
func (d *decoder) budget(n *yaml.Node, path string, depth int) bool {
	if d.stopped {
		return false
	}
	if depth > MaxDepth {
		d.fail(n, path, "nesting deeper than %d levels", MaxDepth)
		return false
	}
	d.nodes++
	d.pathBytes += len(path)
	switch {
	case d.nodes > MaxNodes:
		d.stop(n, path, "document too large: more than %d nodes after alias expansion", MaxNodes)
	case d.pathBytes > MaxPathBytes:
		d.stop(n, path, "document too large: field paths exceed %d MiB after alias expansion (aliases nested too deeply or keys too long)", MaxPathBytes>>20)
	}
	return !d.stopped
}

func isMergeKey(k *yaml.Node) bool { return k.Kind == yaml.ScalarNode && k.Tag == "!!merge" }

// pairs returns the key/value pairs of a mapping with merge keys (<<)
// expanded as YAML defines them: the mapping's own keys win over merged
// ones, and an earlier merged mapping wins over a later one. Duplicate own
// keys are kept for the caller to report. Every merged mapping and every
// pair taken from one is charged to the budget.
func (d *decoder) pairs(n *yaml.Node, path string, depth int) [][2]*yaml.Node {
	out := make([][2]*yaml.Node, 0, len(n.Content)/2)
	hasMerge := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		hasMerge = hasMerge || isMergeKey(n.Content[i])
		out = append(out, [2]*yaml.Node{n.Content[i], n.Content[i+1]})
	}
	if !hasMerge {
		return out
	}
	own := map[string]bool{}
	for _, kv := range out {
		if !isMergeKey(kv[0]) {
			own[kv[0].Value] = true
		}
	}
	out = out[:0]
	merged := map[string]bool{}
	for i := 0; i+1 < len(n.Content) && !d.stopped; i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !isMergeKey(k) {
			out = append(out, [2]*yaml.Node{k, v})
			continue
		}
		srcs := []*yaml.Node{v}
		if s := resolveQuiet(v); s != nil && s.Kind == yaml.SequenceNode {
			srcs = s.Content
		}
		for _, s := range srcs {
			if !d.budget(s, path, depth+1) {
				break
			}
			src, ok := d.enter(s, path)
			if !ok {
				continue
			}
			if src == nil || src.Kind != yaml.MappingNode {
				d.fail(v, path, "merge key (<<) needs a mapping or a list of mappings")
				d.leave(src)
				continue
			}
			for _, kv := range d.pairs(src, path, depth+1) {
				if key := kv[0].Value; !own[key] && !merged[key] {
					merged[key] = true
					out = append(out, kv)
					if !d.budget(kv[0], path, depth+1) {
						break
					}
				}
			}
			d.leave(src)
		}
	}
	return out
}

// resolveQuiet follows aliases without any bookkeeping (to look at a kind).
func resolveQuiet(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

type fieldInfo struct {
	index []int
	name  string
}

// fieldCache holds fields per struct type (read-only once stored): a
// struct type is seen once per mapping decoded into it.
var fieldCache sync.Map // reflect.Type -> map[string]fieldInfo

func fields(t reflect.Type) map[string]fieldInfo {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(map[string]fieldInfo)
	}
	fs := structFields(t)
	fieldCache.Store(t, fs)
	return fs
}

// structFields lists the json-visible fields of a struct type, following
// inline (embedded or `json:",inline"`) structs.
func structFields(t reflect.Type) map[string]fieldInfo {
	out := map[string]fieldInfo{}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if tag == "-" {
				continue
			}
			idx := append(append([]int{}, prefix...), i)
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			inline := strings.Contains(","+opts+",", ",inline,") || (f.Anonymous && name == "")
			if inline && ft.Kind() == reflect.Struct && f.Type.Kind() != reflect.Pointer {
				walk(ft, idx)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, dup := out[name]; !dup {
				out[name] = fieldInfo{index: idx, name: name}
			}
		}
	}
	walk(t, nil)
	return out
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, depth int) {
	if !d.budget(n, path, depth) {
		return
	}
	n, ok := d.enter(n, path)
	defer d.leave(n)
	if !ok || n == nil {
		return
	}
	if isNull(n) {
		v.Set(reflect.Zero(v.Type()))
		return
	}
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	if v.CanAddr() && v.Addr().Type().Implements(jsonUnmarshaler) {
		g := d.genericNode(n, path, depth)
		raw, err := json.Marshal(g)
		if err == nil {
			err = v.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(raw)
		}
		if err != nil {
			d.fail(n, path, "invalid value %s: %v", kindName(n), err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Interface:
		if v.NumMethod() != 0 {
			d.fail(n, path, "internal: cannot decode into %s", v.Type())
			return
		}
		g := d.genericNode(n, path, depth)
		if g != nil {
			v.Set(reflect.ValueOf(g))
		}
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "expected a mapping, got %s", kindName(n))
			return
		}
		fs := fields(v.Type())
		seen := map[string]bool{}
		for _, kv := range d.pairs(n, path, depth) {
			if d.stopped {
				break
			}
			k, val := kv[0], kv[1]
			key := k.Value
			fp := Child(path, key)
			d.setPos(fp, k)
			if seen[key] {
				d.fail(k, fp, "duplicate field")
				continue
			}
			seen[key] = true
			fi, ok := fs[key]
			if !ok {
				msg := "unknown field"
				if s := d.suggest(v.Type(), key, fs); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				d.fail(k, fp, "%s", msg)
				continue
			}
			d.decode(val, fieldByIndex(v, fi.index), fp, depth+1)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "expected a mapping, got %s", kindName(n))
			return
		}
		if v.Type().Key().Kind() != reflect.String {
			d.fail(n, path, "internal: map key type %s", v.Type().Key())
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		seen := map[string]bool{}
		for _, kv := range d.pairs(n, path, depth) {
			if d.stopped {
				break
			}
			k, val := kv[0], kv[1]
			fp := Child(path, k.Value)
			d.setPos(fp, k)
			if seen[k.Value] {
				d.fail(k, fp, "duplicate key")
				continue
			}
			seen[k.Value] = true
			elem := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, elem, fp, depth+1)
			v.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "expected a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			if d.stopped {
				break
			}
			ip := Index(path, i)
			d.setPos(ip, item)
			d.decode(item, s.Index(i), ip, depth+1)
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!binary") {
			d.fail(n, path, "expected a string, got %s (quote it)", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
			d.fail(n, path, "expected true or false, got %s", kindName(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil {
			d.fail(n, path, "expected an integer, got %s", kindName(n))
			return
		}
		if v.OverflowInt(i) {
			d.fail(n, path, "integer %d out of range", i)
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		var u uint64
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&u) != nil {
			d.fail(n, path, "expected a non-negative integer, got %s", kindName(n))
			return
		}
		if v.OverflowUint(u) {
			d.fail(n, path, "integer %d out of range", u)
			return
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		var f float64
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&f) != nil {
			d.fail(n, path, "expected a number, got %s", kindName(n))
			return
		}
		v.SetFloat(f)
	default:
		d.fail(n, path, "internal: cannot decode into %s", v.Type())
	}
}

// fieldByIndex walks to a (possibly inline pointer-free) nested field.
func fieldByIndex(v reflect.Value, index []int) reflect.Value {
	for _, i := range index {
		v = v.Field(i)
	}
	return v
}

func (d *decoder) generic(n *yaml.Node, path string, depth int) any {
	if !d.budget(n, path, depth) {
		return nil
	}
	n, ok := d.enter(n, path)
	defer d.leave(n)
	if !ok {
		return nil
	}
	return d.genericNode(n, path, depth)
}

// genericNode converts n, already charged and resolved.
func (d *decoder) genericNode(n *yaml.Node, path string, depth int) any {
	if isNull(n) {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for _, kv := range d.pairs(n, path, depth) {
			if d.stopped {
				break
			}
			fp := Child(path, kv[0].Value)
			d.setPos(fp, kv[0])
			if _, dup := m[kv[0].Value]; dup {
				d.fail(kv[0], fp, "duplicate key")
				continue
			}
			m[kv[0].Value] = d.generic(kv[1], fp, depth+1)
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for i, item := range n.Content {
			if d.stopped {
				break
			}
			ip := Index(path, i)
			d.setPos(ip, item)
			s = append(s, d.generic(item, ip, depth+1))
		}
		return s
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!bool":
			var b bool
			if n.Decode(&b) == nil {
				return b
			}
		case "!!int":
			var i int64
			if n.Decode(&i) == nil {
				return i
			}
			var f float64
			if n.Decode(&f) == nil {
				return f
			}
		case "!!float":
			var f float64
			if n.Decode(&f) == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				return f
			}
		}
		return n.Value
	}
	return nil
}

// suggest is suggestFor, remembered per struct type and key: an aliased
// mapping repeats the same unknown keys many times.
func (d *decoder) suggest(t reflect.Type, key string, fs map[string]fieldInfo) string {
	k := suggestKey{t, key}
	s, ok := d.suggestions[k]
	if !ok {
		s = suggestFor(key, fs)
		d.suggestions[k] = s
	}
	return s
}

// suggestFor returns the known field closest to key (edit distance <= 2, or a
// case-insensitive match), for "did you mean".
func suggestFor(key string, fs map[string]fieldInfo) string {
	names := make([]string, 0, len(fs))
	for k := range fs {
		names = append(names, k)
	}
	sort.Strings(names)
	best, bestD := "", 3
	for _, name := range names {
		if strings.EqualFold(name, key) {
			return name
		}
		if dist := editDistance(strings.ToLower(key), strings.ToLower(name)); dist < bestD {
			best, bestD = name, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
