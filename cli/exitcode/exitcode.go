// Package exitcode lets a command choose its process exit status: the root
// command exits with the code of a returned error that has ExitCode() int.
package exitcode

import "errors"

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
