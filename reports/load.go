package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/onsi/ginkgo/v2/types"
)

// maxReportSize bounds what Load reads: a 1,000-spec run with evidence is a
// few MiB; anything far larger is not a cctest report.
const maxReportSize = 512 << 20

// Load reads a Ginkgo JSON report (what `cctest run` writes as report.json).
// Errors name the file and say what is wrong with it.
func Load(path string) (types.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return types.Report{}, err
	}
	defer f.Close()
	r, err := Decode(f)
	if err != nil {
		return types.Report{}, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// Decode reads a Ginkgo JSON report: the array Ginkgo writes (several suites
// are merged into one report) or a single report object.
func Decode(in io.Reader) (types.Report, error) {
	b, err := io.ReadAll(io.LimitReader(in, maxReportSize+1))
	if err != nil {
		return types.Report{}, err
	}
	if len(b) > maxReportSize {
		return types.Report{}, fmt.Errorf("larger than %d MiB: not a cctest report", maxReportSize>>20)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return types.Report{}, errors.New("empty file: not a Ginkgo JSON report")
	}
	var reports []types.Report
	switch b[0] {
	case '[':
		if err := json.Unmarshal(b, &reports); err != nil {
			return types.Report{}, fmt.Errorf("not a Ginkgo JSON report: %w", err)
		}
	case '{':
		var r types.Report
		if err := json.Unmarshal(b, &r); err != nil {
			return types.Report{}, fmt.Errorf("not a Ginkgo JSON report: %w", err)
		}
		reports = append(reports, r)
	default:
		return types.Report{}, errors.New("not a Ginkgo JSON report: want a JSON array of suite reports (ginkgo --json-report)")
	}
	if len(reports) == 0 {
		return types.Report{}, errors.New("not a Ginkgo JSON report: the array holds no suite report")
	}
	for i, r := range reports {
		if r.StartTime.IsZero() && r.SuiteDescription == "" && len(r.SpecReports) == 0 {
			return types.Report{}, fmt.Errorf("not a Ginkgo JSON report: element %d has no suite description, start time or specs", i)
		}
	}
	return merge(reports), nil
}

// merge folds several suite reports into one (ginkgo run over several
// packages writes one element per suite).
func merge(rs []types.Report) types.Report {
	out := rs[0]
	for _, r := range rs[1:] {
		out.SuiteSucceeded = out.SuiteSucceeded && r.SuiteSucceeded
		out.SpecialSuiteFailureReasons = append(out.SpecialSuiteFailureReasons, r.SpecialSuiteFailureReasons...)
		out.PreRunStats.TotalSpecs += r.PreRunStats.TotalSpecs
		out.PreRunStats.SpecsThatWillRun += r.PreRunStats.SpecsThatWillRun
		if !r.StartTime.IsZero() && (out.StartTime.IsZero() || r.StartTime.Before(out.StartTime)) {
			out.StartTime = r.StartTime
		}
		if r.EndTime.After(out.EndTime) {
			out.EndTime = r.EndTime
		}
		out.RunTime += r.RunTime
		out.SpecReports = append(append(types.SpecReports{}, out.SpecReports...), r.SpecReports...)
		if r.SuiteDescription != out.SuiteDescription {
			out.SuiteDescription += " + " + r.SuiteDescription
		}
	}
	return out
}
