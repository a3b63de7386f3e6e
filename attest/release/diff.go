package release

import (
	"fmt"

	"github.com/cctest/cctest/attest/eventlog"
)

// Change is one difference between two releases, for people: what changed
// and, for a TDX register, which event changed it.
type Change struct {
	What string `json:"what"` // "MRTD", "RTMR2", "SNP measurement", ...
	Old  string `json:"old"`
	New  string `json:"new"`
	// Why names the events behind a changed RTMR ("kernel command line
	// changed: ... → ...").
	Why []string `json:"why,omitempty"`
}

// Diff lists what differs between an old and a new release of a node type.
func Diff(old, new *Record) []Change {
	var out []Change
	add := func(what, o, n string, why []string) {
		if o != n {
			out = append(out, Change{What: what, Old: o, New: n, Why: why})
		}
	}
	add("TEE", old.TEE, new.TEE, nil)
	switch {
	case old.TDX != nil && new.TDX != nil:
		add("MRTD", old.TDX.MRTD, new.TDX.MRTD, nil)
		for i, pair := range [][2]string{{old.TDX.RTMR0, new.TDX.RTMR0}, {old.TDX.RTMR1, new.TDX.RTMR1}, {old.TDX.RTMR2, new.TDX.RTMR2}} {
			add(fmt.Sprintf("RTMR%d", i), pair[0], pair[1], eventChanges(old.TDX.Events, new.TDX.Events, i))
		}
	case old.SNP != nil && new.SNP != nil:
		add("SNP measurement", old.SNP.Measurement, new.SNP.Measurement, nil)
		add("SNP guest policy", old.SNP.GuestPolicy, new.SNP.GuestPolicy, nil)
	}
	return out
}

// eventChanges explains a register's change from the two event logs: the
// events of that register, side by side in log order.
func eventChanges(old, new []eventlog.Event, rtmr int) []string {
	o, n := eventlog.EventsFor(old, rtmr), eventlog.EventsFor(new, rtmr)
	var why []string
	for i := 0; i < len(o) || i < len(n); i++ {
		switch {
		case i >= len(o):
			why = append(why, "added: "+n[i].String())
		case i >= len(n):
			why = append(why, "removed: "+o[i].String())
		case !o[i].Same(n[i]):
			why = append(why, fmt.Sprintf("%s changed: %q → %q", o[i].Description, o[i].Text, n[i].Text))
		}
	}
	return why
}
