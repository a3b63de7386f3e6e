package device

import (
	"os"

	"github.com/cctest/cctest/api/teename"
)

// CCELPath is where Linux exposes the ACPI CCEL table's event log area: the
// TD firmware's and boot loader's measurements into RTMR0-2 (TCG2
// crypto-agile format, 0xFF-padded).
const CCELPath = "/sys/firmware/acpi/tables/data/CCEL"

// readCCEL returns the TD's event log for TDX evidence, or nil when the
// kernel does not expose it (or it is not readable): the verifier then
// skips the replay, saying so, unless the policy requires the log.
var readCCEL = func(tee string) []byte {
	if tee != teename.TDX {
		return nil
	}
	b, err := os.ReadFile(CCELPath)
	if err != nil || len(b) == 0 {
		return nil
	}
	return b
}
