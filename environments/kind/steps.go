package kind

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// step is one action of Create, kind-style: it prints a line when it
// starts and one when it ends.
type step struct {
	name string
	run  func(context.Context) error
}

// errSkipped ends a step that had nothing to do or could not be done
// without failing the environment; its text is printed instead of ✓.
type errSkipped struct{ why string }

func (e errSkipped) Error() string { return e.why }

// runSteps runs the steps in order and stops at the first failure, whose
// error names the step.
func runSteps(ctx context.Context, w io.Writer, steps []step) error {
	for i, s := range steps {
		prefix := fmt.Sprintf("[%d/%d]", i+1, len(steps))
		fmt.Fprintf(w, " • %s %s ...\n", prefix, s.name)
		start := time.Now()
		err := ctx.Err()
		if err == nil {
			err = s.run(ctx)
		}
		d := time.Since(start).Round(100 * time.Millisecond)
		var skip errSkipped
		switch {
		case err == nil:
			fmt.Fprintf(w, " ✓ %s %s (%s)\n", prefix, s.name, d)
		case errors.As(err, &skip):
			fmt.Fprintf(w, " - %s %s: skipped: %s\n", prefix, s.name, skip.why)
		default:
			fmt.Fprintf(w, " ✗ %s %s (%s): %v\n", prefix, s.name, d, err)
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}
