// Package example is an e2e-framework test suite against cctest's embedded
// confidential-compute platform, written the way e2e-framework users write
// theirs: the environment is set up once in TestMain through a cluster
// provider, and each test is a feature with setup, assessments and teardown.
//
// Run it with `go test ./environments/e2eprov/example` (it starts the
// embedded platform, a few seconds; the cctest binary comes from
// $CCTEST_BIN or is built by internal/testbin).
package example

import (
	"fmt"
	"os"
	"testing"

	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/envfuncs"

	"github.com/cctest/cctest/environments/e2eprov"
	"github.com/cctest/cctest/internal/testbin"
)

// clusterName is the key the provider is stored under in the context.
const clusterName = "cctest-embedded"

var testenv env.Environment

func TestMain(m *testing.M) {
	testenv = env.NewWithConfig(envconf.New())
	provider := e2eprov.NewEmbedded().WithPath(testbin.Path(exitTB{}))
	testenv.Setup(envfuncs.CreateCluster(provider, clusterName))
	testenv.Finish(envfuncs.DestroyCluster(clusterName))
	os.Exit(testenv.Run(m))
}

// exitTB lets TestMain use testbin, which is written for testing.TB.
type exitTB struct{ testing.TB }

func (exitTB) Helper() {}
func (exitTB) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}
