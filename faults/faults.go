// Package faults is the catalogue of named faults the simulated platform can
// be started with. A fault is a switch inside a simulator, never a branch in
// a spec: it makes the platform misbehave the way a broken real platform
// would, so the suites can prove that each check can fail. Each simulator
// declares its own faults (Declare) next to the code they break; the
// catalogue is built from those declarations, so it cannot name the wrong
// component.
package faults

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// Fault is one named misbehaviour.
type Fault struct {
	Name        string
	Component   string // the package that declares and implements it
	Description string
}

var (
	mu        sync.Mutex
	catalogue = map[string]Fault{}
)

const module = "github.com/cctest/cctest/"

// Declare adds a fault to the catalogue and returns its name, for the
// declaring simulator's switch. The component is the calling package. A
// name declared twice panics (the binary fails at start, naming both).
func Declare(name, description string) string {
	component := "?"
	if pc, _, _, ok := runtime.Caller(1); ok {
		component = callerPackage(runtime.FuncForPC(pc).Name())
	}
	mu.Lock()
	defer mu.Unlock()
	if prev, dup := catalogue[name]; dup {
		panic(fmt.Sprintf("faults: %q declared twice (in %s and %s)", name, prev.Component, component))
	}
	catalogue[name] = Fault{Name: name, Component: component, Description: description}
	return name
}

// callerPackage turns "github.com/cctest/cctest/simulators/tee.init" into
// "simulators/tee".
func callerPackage(fn string) string {
	fn = strings.TrimPrefix(fn, module)
	slash := strings.LastIndex(fn, "/")
	if dot := strings.Index(fn[slash+1:], "."); dot >= 0 {
		fn = fn[:slash+1+dot]
	}
	return fn
}

// All returns the catalogue, sorted by name: the faults of every simulator
// linked into this binary.
func All() []Fault {
	mu.Lock()
	defer mu.Unlock()
	out := make([]Fault, 0, len(catalogue))
	for _, f := range catalogue {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the fault with that name.
func Lookup(name string) (Fault, bool) {
	mu.Lock()
	defer mu.Unlock()
	f, ok := catalogue[name]
	return f, ok
}

// Set is the faults a platform was started with. The zero value has none.
type Set map[string]bool

// Parse checks names against the catalogue.
func Parse(names ...string) (Set, error) {
	s := Set{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if _, ok := Lookup(n); !ok {
			var known []string
			for _, f := range All() {
				known = append(known, f.Name)
			}
			return nil, fmt.Errorf("unknown fault %q; known faults: %s (see `cctest faults`)", n, strings.Join(known, ", "))
		}
		s[n] = true
	}
	return s, nil
}

// Has reports whether the fault is on. Safe on a nil Set.
func (s Set) Has(name string) bool { return s[name] }

// Names lists the faults that are on, sorted.
func (s Set) Names() []string {
	out := make([]string, 0, len(s))
	for n := range s {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
