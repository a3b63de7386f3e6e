package release

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/cctest/cctest/attest/policy"
)

// RemoveFromPolicy returns the policy document without the allowlist entry
// named name (in the tdx or snp section). The node tree is edited and
// re-encoded: comments stay, the removed entry's with it, layout may be
// normalised. A name no entry has, or a policy that does not load after the
// edit, is an error.
func RemoveFromPolicy(doc []byte, name string) ([]byte, error) {
	root, err := policyTree(doc)
	if err != nil {
		return nil, err
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
	out, err := encode(root)
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
	return editPolicyFile(path, func(doc []byte) ([]byte, error) { return RemoveFromPolicy(doc, name) })
}
