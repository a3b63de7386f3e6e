package exitcode

import (
	"fmt"
	"testing"
)

// The statuses are a contract with scripts and CI jobs: every command means
// the same by each, and they do not move.
func TestTable(t *testing.T) {
	if Failed != 1 || Usage != 2 || NoDevice != 3 || Environment != 4 || Interrupted != 130 {
		t.Fatalf("exit table changed: failed %d usage %d no-device %d environment %d interrupted %d", Failed, Usage, NoDevice, Environment, Interrupted)
	}
	if code, ok := Of(fmt.Errorf("wrapped: %w", New(Usage, "bad flag"))); !ok || code != Usage {
		t.Fatalf("Of(wrapped usage error) = %d, %v", code, ok)
	}
	if _, ok := Of(fmt.Errorf("plain")); ok {
		t.Fatal("a plain error carries no status")
	}
}
