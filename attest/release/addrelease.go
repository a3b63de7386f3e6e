package release

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cctest/cctest/api/teename"
	"github.com/cctest/cctest/attest/policy"
)

// AddToPolicy returns the policy document with the record's values added
// to its allowlist for the record's TEE. It edits the YAML node tree, so
// the person's comments, key order and flow style stay; the result must
// load as a policy. An entry with the record's name, or one allowing the
// same values, is an error (nothing is added twice).
func AddToPolicy(doc []byte, r *Record) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("release record: %w", err)
	}
	root, err := policyTree(doc)
	if err != nil {
		return nil, err
	}
	top := root.Content[0]
	section := map[string]string{teename.TDX: "tdx", teename.SNP: "snp"}[r.TEE]
	sec := mapValue(top, section)
	if sec == nil || sec.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("the policy has no %s section: it does not allow %s evidence, so add-release will not widen it (add the section first)", section, r.TEE)
	}
	list := mapValue(sec, "allowedMeasurements")
	if list == nil {
		list = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		sec.Content = append(sec.Content, strNode("allowedMeasurements"), list)
	}
	if list.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s.allowedMeasurements is not a list", section)
	}
	if list.Style&yaml.FlowStyle != 0 && len(list.Content) == 0 {
		list.Style = 0 // "[]" becomes a block list
	}
	entry, err := entryFor(r, section, list)
	if err != nil {
		return nil, err
	}
	out, err := insertEntry(doc, root, list, entry)
	if err != nil {
		return nil, err
	}
	p, err := policy.Load(out)
	if err != nil {
		return nil, fmt.Errorf("the edited policy does not load (nothing written): %w", err)
	}
	if !hasEntry(p, r) {
		return nil, errors.New("the edited policy does not list the release (nothing written)")
	}
	return out, nil
}

// insertEntry adds entry to list. A block list that has items gets the
// entry as text after its last item, every other byte of the document
// unchanged; otherwise the node tree is re-encoded (comments stay, layout
// may change).
func insertEntry(doc []byte, root, list, entry *yaml.Node) ([]byte, error) {
	comment := entry.HeadComment
	if list.Style&yaml.FlowStyle == 0 && len(list.Content) > 0 && !bytes.Contains(doc, []byte("\r")) {
		if out, ok := insertText(doc, root, list, entry, comment); ok {
			return out, nil
		}
	}
	list.Style = 0
	list.Content = append(list.Content, entry)
	return encode(root)
}

func encode(n *yaml.Node) ([]byte, error) {
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("policy YAML: %v", err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// insertText places the rendered entry after the list's last item: before
// the first line after it that is less indented than the items' dash (the
// next key), keeping comments that head that key where they are.
func insertText(doc []byte, root, list, entry *yaml.Node, comment string) ([]byte, bool) {
	lines := strings.SplitAfter(string(doc), "\n")
	first := list.Content[0]
	if first.Line < 1 || first.Line > len(lines) {
		return nil, false
	}
	firstLine := lines[first.Line-1]
	indent := len(firstLine) - len(strings.TrimLeft(firstLine, " "))
	if !strings.HasPrefix(firstLine[indent:], "-") {
		return nil, false
	}
	last := list.Content[len(list.Content)-1]
	end := len(lines) // index of the first line after the list
	for i := last.Line; i < len(lines); i++ {
		t := strings.TrimLeft(lines[i], " ")
		if strings.TrimSpace(t) == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if len(lines[i])-len(t) < indent || (len(lines[i])-len(t) == indent && !strings.HasPrefix(t, "-")) {
			end = i
			break
		}
	}
	// Leave blank lines and comments no more indented than the dash (they head the next key) after the entry.
	for end > last.Line {
		t := strings.TrimLeft(lines[end-1], " ")
		if strings.TrimSpace(t) == "" || (strings.HasPrefix(t, "#") && len(lines[end-1])-len(t) <= indent) {
			end--
			continue
		}
		break
	}
	entry.HeadComment = ""
	rendered, err := encode(&yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{entry}})
	if err != nil {
		return nil, false
	}
	pad := strings.Repeat(" ", indent)
	var add strings.Builder
	add.WriteString(pad + comment + "\n")
	for _, l := range strings.SplitAfter(string(rendered), "\n") {
		if l != "" {
			add.WriteString(pad + l)
		}
	}
	before := strings.Join(lines[:end], "")
	if before != "" && !strings.HasSuffix(before, "\n") {
		before += "\n"
	}
	return []byte(before + add.String() + strings.Join(lines[end:], "")), true
}

// AddToPolicyFile edits the policy file in place (temporary file + rename,
// keeping its mode); on any error the file is untouched.
func AddToPolicyFile(path string, r *Record) error {
	return editPolicyFile(path, func(doc []byte) ([]byte, error) { return AddToPolicy(doc, r) })
}

// editPolicyFile applies edit to the policy file in place (temporary file
// + rename, keeping its mode); on any error the file is untouched.
func editPolicyFile(path string, edit func([]byte) ([]byte, error)) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := edit(doc)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return WriteFileAtomic(path, out, st.Mode().Perm())
}

// policyTree parses a policy that loads into its YAML node tree: one
// document with a mapping at the top.
func policyTree(doc []byte) (*yaml.Node, error) {
	if _, err := policy.Load(doc); err != nil {
		return nil, fmt.Errorf("the policy does not load before the edit: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("policy YAML: %v", err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("policy YAML: want one document with a mapping at the top")
	}
	return &root, nil
}

func entryFor(r *Record, section string, list *yaml.Node) (*yaml.Node, error) {
	e := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	add := func(k string, v *yaml.Node) { e.Content = append(e.Content, strNode(k), v) }
	add("name", strNode(r.Name))
	var pins [][2]string
	switch r.TEE {
	case teename.TDX:
		t := r.TDX
		pins = [][2]string{{"mrtd", t.MRTD}, {"rtmr0", t.RTMR0}, {"rtmr1", t.RTMR1}, {"rtmr2", t.RTMR2}}
		for _, p := range pins {
			add(p[0], hexNode(p[1]))
		}
		if len(t.Events) > 0 {
			evs := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			for _, ev := range t.Events {
				m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}
				m.Content = append(m.Content,
					strNode("rtmr"), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(ev.RTMR)},
					strNode("type"), strNode(ev.Type),
					strNode("digest"), hexNode(ev.Digest),
					strNode("description"), strNode(ev.Description))
				if ev.Text != "" && ev.Text != ev.Description {
					m.Content = append(m.Content, strNode("text"), strNode(ev.Text))
				}
				evs.Content = append(evs.Content, m)
			}
			add("events", evs)
		}
	case teename.SNP:
		pins = [][2]string{{"measurement", r.SNP.Measurement}}
		add("measurement", hexNode(r.SNP.Measurement))
	}
	var info []string
	for _, kv := range [][2]string{{"node type", r.NodeType}, {"VM size", r.VMSize}} {
		if kv[1] != "" {
			info = append(info, kv[0]+" "+kv[1])
		}
	}
	if !r.MeasuredAt.IsZero() {
		info = append(info, "measured "+r.MeasuredAt.UTC().Format("2006-01-02"))
	}
	if r.SNP != nil {
		info = append(info, "guest policy "+r.SNP.GuestPolicy, "family ID "+r.SNP.FamilyID, "image ID "+r.SNP.ImageID)
	}
	e.HeadComment = "# release " + r.Name + " (cctest policy add-release)"
	if len(info) > 0 {
		e.HeadComment += ": " + strings.Join(info, ", ")
	}
	// Duplicates: same name, or the same pinned values.
	for _, old := range list.Content {
		if old.Kind != yaml.MappingNode {
			continue
		}
		if n := mapValue(old, "name"); n != nil && n.Value == r.Name {
			return nil, fmt.Errorf("%s.allowedMeasurements already has an entry named %q (choose another --name, or remove it first)", section, r.Name)
		}
		same := true
		for _, p := range pins {
			v := mapValue(old, p[0])
			a, _ := policy.DecodeHex(p[1])
			if v == nil {
				same = false
				break
			}
			b, err := policy.DecodeHex(v.Value)
			if err != nil || !bytes.Equal(a, b) {
				same = false
				break
			}
		}
		if same {
			name := ""
			if n := mapValue(old, "name"); n != nil {
				name = n.Value
			}
			return nil, fmt.Errorf("%s.allowedMeasurements already allows these values as %q", section, name)
		}
	}
	return e, nil
}

func hasEntry(p *policy.Policy, r *Record) bool {
	switch r.TEE {
	case teename.TDX:
		for _, m := range p.TDX.AllowedMeasurements {
			if m.Name == r.Name {
				return true
			}
		}
	case teename.SNP:
		for _, m := range p.SNP.AllowedMeasurements {
			if m.Name == r.Name {
				return true
			}
		}
	}
	return false
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func strNode(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// hexNode writes hex quoted: unquoted, YAML reads 0123... as a number.
func hexNode(s string) *yaml.Node {
	b, err := policy.DecodeHex(s)
	v := s
	if err == nil {
		v = fmt.Sprintf("%x", b)
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Style: yaml.DoubleQuotedStyle}
}
