// Package invented plants signals no real platform emits, for the contract
// scan's own test.
package invented

type node struct{ Labels, Annotations map[string]string }

type suite struct{}

func (suite) events(_ any, _, _, _ string) []string { return nil }

const machine = "cctest.dev/machine"

type podSpec struct{ selector map[string]string }

var terminalReasons = map[string]bool{"Invented": true}

func Reads(n node, s suite) (string, string, []string, podSpec) {
	return n.Labels[machine], n.Annotations["example.com/invented"], s.events(nil, "ns", "pod", "NoMatchingNodeType"), podSpec{selector: map[string]string{"plain-key": "v"}}
}
