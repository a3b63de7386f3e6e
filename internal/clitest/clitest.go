// Package clitest runs cobra commands in tests the way the root runs them.
package clitest

import (
	"bytes"
	"testing"

	"github.com/spf13/cobra"

	"github.com/cctest/cctest/internal/exitcode"
)

// Execute runs cmd with args and returns what it printed (stdout and
// stderr together) and its error.
func Execute(t testing.TB, cmd *cobra.Command, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// ExitCode is the status the root would exit with: 0 for nil, the code an
// error carries, and -1 for an error that carries none (a test expecting a
// specific status must not accept that).
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	if code, ok := exitcode.Of(err); ok {
		return code
	}
	return -1
}
