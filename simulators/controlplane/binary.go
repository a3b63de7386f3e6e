package controlplane

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// BinaryEnv names the cctest binary that runs control-plane children, for
// callers that are not that binary themselves (tests).
const BinaryEnv = "CCTEST_BIN"

// Binary returns the cctest binary to re-execute for control-plane children:
// $CCTEST_BIN if set, else the running executable when it is cctest.
func Binary() (string, error) {
	if b := os.Getenv(BinaryEnv); b != "" {
		return b, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	if base := filepath.Base(exe); strings.HasPrefix(base, "cctest") && !strings.HasSuffix(base, ".test") {
		return exe, nil
	}
	return "", errors.New("cannot find the cctest binary to run the control planes: set " + BinaryEnv + " (make test does)")
}
