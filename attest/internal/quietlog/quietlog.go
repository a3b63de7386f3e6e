// Package quietlog initialises github.com/google/logger before go-tdx-guest
// and go-sev-guest do. Their init() calls logger.Init with os.Stdout, and the
// first Init wins, so without this their warnings would land in cctest's
// stdout (and corrupt `-o json`). Go initialises packages in import-path
// order once their dependencies are ready, and github.com/cctest/... sorts
// before github.com/google/..., so importing this package (for its side
// effect) is enough.
package quietlog

import (
	"io"

	"github.com/google/logger"
)

func init() {
	logger.Init("cctest", false, false, io.Discard)
}

// Enabled is a no-op that documents the dependency at call sites.
func Enabled() bool { return true }
