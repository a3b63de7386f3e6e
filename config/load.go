// Package config loads the harness's inputs strictly: the vcluster.yaml
// model (the sections cctest uses typed in detail, the rest of the chart's
// top-level keys opaque), NodeProvider manifests and other Kubernetes
// manifests. Unknown fields are errors naming the file, YAML path and line,
// and validation applies vCluster's rules, returning every problem at once.
package config

import (
	"fmt"
	"os"
	"strings"

	"github.com/cctest/cctest/config/strictyaml"
)

// VClusterFile is a parsed vcluster.yaml.
type VClusterFile struct {
	File      string
	Values    VCluster
	Positions strictyaml.Positions
	// Generic is the document as JSON-compatible values (for JSON-schema validation).
	Generic any
}

// LoadVClusterFile reads and strictly parses a vcluster.yaml.
func LoadVClusterFile(path string) (*VClusterFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return LoadVCluster(path, data)
}

// LoadVCluster strictly parses vcluster.yaml content. On problems it returns
// the partially decoded file together with a Problems error, so callers can
// still report on what did parse. A YAML syntax error returns a nil file.
func LoadVCluster(file string, data []byte) (*VClusterFile, error) {
	docs, err := strictyaml.Documents(data)
	if err != nil {
		return nil, Problems{{File: file, Message: err.Error()}}
	}
	f := &VClusterFile{File: file, Positions: strictyaml.Positions{}}
	if len(docs) == 0 {
		return f, nil
	}
	var ps Problems
	if len(docs) > 1 {
		ps = append(ps, Problem{File: file, Line: docs[1].Line, Message: "vcluster.yaml must be a single YAML document"})
	}
	pos, errs := strictyaml.Decode(docs[0], &f.Values, "")
	f.Positions = pos
	f.Generic, _ = strictyaml.Generic(docs[0])
	for _, p := range fromDecode(file, errs) {
		if p.Path == "privateNodes.autoNodes" && strings.HasPrefix(p.Message, "expected a list, got a mapping") {
			p.Rule = RuleAutoNodesForm
			p.Message = "must be a list: the map form of autoNodes was replaced by an array in vCluster v0.30 " +
				"(write `autoNodes:` as `- provider: <name>` entries with static/dynamic pools)"
		}
		ps = append(ps, p)
	}
	if len(ps) > 0 {
		return f, ps
	}
	return f, nil
}

// Problem builds a problem located at a YAML path of this file.
func (f *VClusterFile) Problem(path, format string, a ...any) Problem {
	return located(f.File, f.Positions, path, format, a...)
}

// Line returns the line of a path (0 if unknown).
func (f *VClusterFile) Line(path string) int { return f.Positions[path].Line }

func indexPath(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }
