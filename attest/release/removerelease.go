package release

import (
	"errors"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/cctest/cctest/attest/policy"
)

// RemoveFromPolicy returns the policy document without the allowlist entry
// named name (in the tdx or snp section). The node tree is edited and
// re-encoded: comments stay, the removed entry's with it, layout may be
// normalised. A name no entry has, or a policy that does not load after the
// edit, is an error.
func RemoveFromPolicy(doc []byte, name string) ([]byte, error) {
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
	removed := false
	for _, section := range []string{"tdx", "snp"} {
		sec := mapValue(root.Content[0], section)
		if sec == nil || sec.Kind != yaml.MappingNode {
			continue
		}
		list := mapValue(sec, "allowedMeasurements")
		if list == nil || list.Kind != yaml.SequenceNode {
			continue
		}
		for i, e := range list.Content {
			if n := mapValue(e, "name"); n != nil && n.Value == name {
				list.Content = append(list.Content[:i], list.Content[i+1:]...)
				removed = true
				break
			}
		}
	}
	if !removed {
		return nil, fmt.Errorf("no allowlist entry is named %q (nothing removed)", name)
	}
	out, err := encode(&root)
	if err != nil {
		return nil, err
	}
	if _, err := policy.Load(out); err != nil {
		return nil, fmt.Errorf("the edited policy does not load (nothing written): %w", err)
	}
	return out, nil
}

// RemoveFromPolicyFile edits the policy file in place (temporary file +
// rename, keeping its mode); on any error the file is untouched.
func RemoveFromPolicyFile(path, name string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := RemoveFromPolicy(doc, name)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return WriteFileAtomic(path, out, st.Mode().Perm())
}
