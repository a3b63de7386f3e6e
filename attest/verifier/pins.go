package verifier

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/cctest/cctest/attest/policy"
)

// policyHex remembers policy hex fields decoded (policy.MustDecodeHex),
// and their canonical hex for the checks' Expected: a policy's pins are
// the same strings on every verification, and decoding them each time cost
// several microseconds of a cached one. The key is the string itself, so an
// edited policy field is another key. The slices are shared: nothing here
// or in the libraries' validate options writes them.
var policyHex = struct {
	sync.RWMutex
	m map[string]decodedPin
}{m: map[string]decodedPin{}}

type decodedPin struct {
	b   []byte
	hex string
}

// maxPolicyHex bounds the memo; past it, it starts over.
const maxPolicyHex = 4096

// pin is policy.MustDecodeHex(s), decoded once per distinct s.
func pin(s string) []byte { return decodePin(s).b }

// pinHex is hex.EncodeToString(pin(s)).
func pinHex(s string) string { return decodePin(s).hex }

func decodePin(s string) decodedPin {
	if s == "" {
		return decodedPin{}
	}
	policyHex.RLock()
	d, ok := policyHex.m[s]
	policyHex.RUnlock()
	if ok {
		return d
	}
	d.b = policy.MustDecodeHex(s)
	d.hex = hex.EncodeToString(d.b)
	policyHex.Lock()
	if len(policyHex.m) >= maxPolicyHex {
		clear(policyHex.m)
	}
	policyHex.m[s] = d
	policyHex.Unlock()
	return d
}

// rtmrPins are a measurement's RTMR0-3 pins (nil = any value).
func rtmrPins(m *policy.TDXMeasurement) [4][]byte {
	return [4][]byte{pin(m.RTMR0), pin(m.RTMR1), pin(m.RTMR2), pin(m.RTMR3)}
}

// pinCheck compares a field with the policy's pin (hex); ok is false when unpinned.
func pinCheck(name, field string, got []byte, pinned, why string) (Check, bool) {
	want := pin(pinned)
	if want == nil {
		return Check{}, false
	}
	c := Check{Name: name, Expected: pinHex(pinned), Pass: bytes.Equal(got, want)}
	c.Measured = c.Expected // the same bytes when it passes
	if !c.Pass {
		c.Measured = hex.EncodeToString(got)
	}
	if !c.Pass {
		c.Detail = fmt.Sprintf("%s is not the one the policy pins: %s", field, why)
	}
	return c, true
}

// tdxPinChecks are the TD fields real deployments pin besides measurements.
func tdxPinChecks(vd *Verdict, t *policy.TDX, configID, owner, ownerConfig []byte, attrs uint64) {
	for _, p := range []struct {
		name, field string
		got         []byte
		pinned, why string
	}{
		{"mrconfigid", "MRCONFIGID", configID, t.MrConfigID, "the TD was launched with other init-data (agent policy, KBS address) than the policy binds"},
		{"mrowner", "MROWNER", owner, t.MrOwner, "the TD belongs to another owner"},
		{"mrownerconfig", "MROWNERCONFIG", ownerConfig, t.MrOwnerConfig, "the TD has another owner configuration"},
	} {
		if c, ok := pinCheck(p.name, p.field, p.got, p.pinned, p.why); ok {
			vd.add(c)
		}
	}
	if t.RequireSeptVEDisable {
		c := Check{Name: "sept-ve-disable", Expected: "TD_ATTRIBUTES.SEPT_VE_DISABLE (bit 28) set", Pass: attrs&tdAttrSeptVEDisable != 0}
		var be [8]byte // %016x without fmt
		binary.BigEndian.PutUint64(be[:], attrs)
		c.Measured = "TD_ATTRIBUTES " + hex.EncodeToString(be[:])
		if !c.Pass {
			c.Detail = "SEPT_VE_DISABLE is clear: the host can inject #VE on EPT violations into the TD"
		}
		vd.add(c)
	}
}

const tdAttrSeptVEDisable = uint64(1) << 28

// snpPinChecks are the report fields real deployments pin besides the
// measurement: HOST_DATA (init-data), the ID-block keys, the firmware build.
func snpPinChecks(vd *Verdict, s *policy.SNP, hostData, idKey, authorKey []byte, currentBuild, committedBuild, version uint32) {
	if c, ok := pinCheck("host-data", "HOST_DATA", hostData, s.HostData,
		"the guest was launched with other init-data (agent policy, KBS address) than the policy binds"); ok {
		vd.add(c)
	}
	digestCheck := func(name, field string, got []byte, allowed []string) {
		if len(allowed) == 0 {
			return
		}
		g := hex.EncodeToString(got)
		c := Check{Name: name, Expected: "one of " + strings.Join(allowed, ", "), Measured: g,
			Pass: slices.ContainsFunc(allowed, func(a string) bool { return bytes.Equal(pin(a), got) })}
		if !c.Pass {
			c.Detail = field + " is not a key the policy allows: the guest's ID block was signed by someone else"
		}
		vd.add(c)
	}
	digestCheck("id-key", "ID_KEY_DIGEST", idKey, s.IDKeyDigests)
	digestCheck("author-key", "AUTHOR_KEY_DIGEST", authorKey, s.AuthorKeyDigests)
	if s.MinimumBuild > 0 {
		c := Check{Name: "firmware-build", Expected: fmt.Sprintf(">= %d", s.MinimumBuild),
			Measured: fmt.Sprintf("current %d, committed %d", currentBuild, committedBuild)}
		c.Pass = version >= 3 && currentBuild >= s.MinimumBuild && committedBuild >= s.MinimumBuild
		if !c.Pass {
			c.Detail = "SEV firmware build below the policy minimum (report v2 carries no build)"
		}
		vd.add(c)
	}
}
