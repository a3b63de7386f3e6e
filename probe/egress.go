package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

// EgressOptions configure `probe egress`.
type EgressOptions struct {
	Target string // host:port
	// ExpectBlocked inverts the verdict: pass when the connection is blocked.
	ExpectBlocked bool
	Node          string
	Timeout       time.Duration // default 5 s
}

// Egress tries a TCP connection to Target. Reachable means the packets got
// through: connected, or refused by the destination. Blocked means dropped
// (a timeout, also for the DNS lookup).
func Egress(ctx context.Context, env *Env, o EgressOptions) Result {
	r := Result{Probe: "egress", Node: o.Node, Target: o.Target}
	if _, _, err := net.SplitHostPort(o.Target); err != nil || o.Target == "" {
		r.Reason = fmt.Sprintf("--target %q: want HOST:PORT", o.Target)
		r.Outcome = "error"
		return r
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	conn, err := env.dial(ctx, "tcp", o.Target)
	var reachable bool
	switch {
	case err == nil:
		conn.Close()
		r.Outcome, reachable = "connected", true
		r.Reason = "egress to " + o.Target + " allowed: connected"
	case errors.Is(err, syscall.ECONNREFUSED):
		r.Outcome, reachable = "refused", true
		r.Reason = "egress to " + o.Target + " allowed: the destination refused the connection, so the packets got through (" + err.Error() + ")"
	case isTimeout(err):
		r.Outcome = "timeout"
		r.Reason = "egress to " + o.Target + " blocked: " + describeNetErr(err)
	case isNotFound(err):
		r.Outcome = "unresolved"
		r.Reason = "cannot resolve " + o.Target + ": " + err.Error()
		return r
	default:
		r.Outcome = "error"
		r.Reason = "egress to " + o.Target + ": " + describeNetErr(err)
		return r
	}
	r.Pass = reachable != o.ExpectBlocked
	if !r.Pass {
		if o.ExpectBlocked {
			r.Reason += "; expected it to be blocked"
		} else {
			r.Reason += "; expected it to be reachable"
		}
	}
	return r
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}
