package reports

import (
	"fmt"
	"math"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// chart is a Gantt chart of the run drawn as inline SVG: one row per spec
// (and per suite setup node), a bar from its start to its end.
type chart struct {
	Width, Height int
	LabelW        int
	Bars          []bar
	Ticks         []tick
}

type bar struct {
	SpecID  string
	Label   string
	Title   string
	State   string
	X, W, Y float64
	TextY   float64
}

type tick struct {
	X     float64
	Label string
}

const (
	chartWidth  = 1000
	chartLabelW = 380
	chartRowH   = 16
	chartTop    = 20
)

func newChart(r types.Report, specIDs map[int]string) chart {
	c := chart{Width: chartWidth, LabelW: chartLabelW}
	var start, end time.Time
	for _, s := range r.SpecReports {
		if s.StartTime.IsZero() {
			continue
		}
		if start.IsZero() || s.StartTime.Before(start) {
			start = s.StartTime
		}
		if s.EndTime.After(end) {
			end = s.EndTime
		}
	}
	total := end.Sub(start).Seconds()
	if total <= 0 {
		total = 1
	}
	area := float64(chartWidth - chartLabelW - 10)
	scale := area / total
	row := 0
	for i, s := range r.SpecReports {
		if s.StartTime.IsZero() {
			continue
		}
		// Passing setup nodes that took no time would only add noise.
		if s.LeafNodeType != types.NodeTypeIt && !s.State.Is(types.SpecStateFailureStates) && s.RunTime < 100*time.Millisecond {
			continue
		}
		x := float64(chartLabelW) + s.StartTime.Sub(start).Seconds()*scale
		w := math.Max(s.RunTime.Seconds()*scale, 1)
		y := float64(chartTop + row*chartRowH)
		name := specName(s)
		label := s.LeafNodeText
		if label == "" {
			label = name
		}
		c.Bars = append(c.Bars, bar{
			SpecID: specIDs[i],
			Label:  truncate(label, 58),
			Title:  fmt.Sprintf("%s — %s, %s, starts at +%.2fs", name, Status(s), duration(s.RunTime), s.StartTime.Sub(start).Seconds()),
			State:  Status(s),
			X:      round1(x), W: round1(w), Y: y + 2, TextY: y + 12,
		})
		row++
	}
	c.Height = chartTop + row*chartRowH + 8
	step := niceStep(total / 5)
	for t := 0.0; t <= total+1e-9; t += step {
		c.Ticks = append(c.Ticks, tick{X: round1(float64(chartLabelW) + t*scale), Label: fmt.Sprintf("%gs", math.Round(t*100)/100)})
	}
	return c
}

// niceStep rounds a tick interval to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// truncate shortens s to n runes with an ellipsis.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
