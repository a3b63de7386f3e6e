package verifier

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/cctest/cctest/attest/policy"
)

// pinCheck compares a field the policy pins; ok is false when unpinned.
func pinCheck(name, field string, got, want []byte, why string) (Check, bool) {
	if want == nil {
		return Check{}, false
	}
	c := Check{Name: name, Expected: hex.EncodeToString(want), Measured: hex.EncodeToString(got), Pass: bytes.Equal(got, want)}
	if !c.Pass {
		c.Detail = fmt.Sprintf("%s is not the one the policy pins: %s", field, why)
	}
	return c, true
}

// tdxPinChecks are the TD fields real deployments pin besides measurements.
func tdxPinChecks(vd *Verdict, t *policy.TDX, configID, owner, ownerConfig []byte, attrs uint64) {
	for _, p := range []struct {
		name, field string
		got, want   []byte
		why         string
	}{
		{"mrconfigid", "MRCONFIGID", configID, t.MrConfigIDBytes(), "the TD was launched with other init-data (agent policy, KBS address) than the policy binds"},
		{"mrowner", "MROWNER", owner, t.MrOwnerBytes(), "the TD belongs to another owner"},
		{"mrownerconfig", "MROWNERCONFIG", ownerConfig, t.MrOwnerConfigBytes(), "the TD has another owner configuration"},
	} {
		if c, ok := pinCheck(p.name, p.field, p.got, p.want, p.why); ok {
			vd.add(c)
		}
	}
	if t.RequireSeptVEDisable {
		c := Check{Name: "sept-ve-disable", Expected: "TD_ATTRIBUTES.SEPT_VE_DISABLE (bit 28) set", Pass: attrs&tdAttrSeptVEDisable != 0}
		c.Measured = fmt.Sprintf("TD_ATTRIBUTES %016x", attrs)
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
	if c, ok := pinCheck("host-data", "HOST_DATA", hostData, s.HostDataBytes(),
		"the guest was launched with other init-data (agent policy, KBS address) than the policy binds"); ok {
		vd.add(c)
	}
	digestCheck := func(name, field string, got []byte, allowed []string) {
		if len(allowed) == 0 {
			return
		}
		g := hex.EncodeToString(got)
		c := Check{Name: name, Expected: "one of " + strings.Join(allowed, ", "), Measured: g,
			Pass: slices.ContainsFunc(allowed, func(a string) bool { return bytes.Equal(policy.MustDecodeHex(a), got) })}
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
