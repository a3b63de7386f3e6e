// Package exitcode is the one table of process exit statuses, shared by
// every command (cctest and cctest-probe), and the error that carries one:
// the root command exits with the code of a returned error that has
// ExitCode() int.
package exitcode

import "errors"

// The exit statuses. 0 is success: the check ran and passed.
const (
	// Failed: the check ran and says no (specs failed, certification
	// findings, evidence rejected, a probe failed, an output not written).
	Failed = 1
	// Usage: bad flags or unusable input; nothing was checked.
	Usage = 2
	// NoDevice: no TEE device on this machine (cctest attest, cctest gate).
	NoDevice = 3
	// Environment: the environment could not be started or reached (an
	// API server that does not answer, no container engine for kind);
	// nothing was checked.
	Environment = 4
	// Interrupted: stopped by SIGINT / SIGTERM (128 + SIGINT, as shells
	// report it); the reports hold what ran before.
	Interrupted = 130
)

// Error is a command failure with the exit status it should end with.
type Error struct {
	Code int
	Msg  string
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) ExitCode() int { return e.Code }

// New returns an Error with the given status and message.
func New(code int, msg string) *Error { return &Error{Code: code, Msg: msg} }

// Of returns the exit status err carries, and whether it carries one.
func Of(err error) (int, bool) {
	var c interface{ ExitCode() int }
	if errors.As(err, &c) {
		return c.ExitCode(), true
	}
	return 0, false
}
