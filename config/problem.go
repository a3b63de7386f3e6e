package config

import (
	"fmt"
	"strings"

	"github.com/cctest/cctest/config/strictyaml"
)

// Problem is one thing wrong with an input file, located by file, YAML path
// and (when known) line.
type Problem struct {
	File    string
	Path    string
	Line    int
	Column  int
	Message string
	// Rule names the validation rule that failed ("" for parse errors), so
	// callers such as certify can map problems to their own check IDs.
	Rule string
}

func (p Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
			if p.Column > 0 {
				fmt.Fprintf(&b, ":%d", p.Column)
			}
		}
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is a list of problems; as an error it prints one per line.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Err returns ps as an error, or nil when empty.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

func fromDecode(file string, errs []strictyaml.Error) Problems {
	var ps Problems
	for _, e := range errs {
		ps = append(ps, Problem{File: file, Path: e.Path, Line: e.Pos.Line, Column: e.Pos.Column, Message: e.Msg})
	}
	return ps
}

// Rules set on validation problems.
const (
	RuleAutoNodesForm   = "autonodes-form"
	RuleRequirement     = "requirement"
	RuleProviderUnique  = "provider-unique"
	RulePoolName        = "pool-name"
	RuleStaticQuantity  = "static-quantity"
	RuleTaint           = "taint"
	RuleLabel           = "label"
	RuleSelector        = "selector"
	RulePatch           = "patch"
	RuleTenantManifests = "tenant-manifests"
	RuleNodeProvider    = "node-provider"
	RuleVersion         = "version"
	RulePrivateNodes    = "private-nodes-mode"
)

// located builds a problem at a path, taking the line from pos.
func located(file string, pos strictyaml.Positions, path, format string, a ...any) Problem {
	p := pos[path]
	return Problem{File: file, Path: path, Line: p.Line, Column: p.Column, Message: fmt.Sprintf(format, a...)}
}
