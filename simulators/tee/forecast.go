package tee

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// Simulated TCB recovery: the standard TCB info is tcbEvaluationDataNumber
// 17; the early TCB info (update=early) is number 18, whose recovery event
// lies PCS.RecoveryIn ahead and whose levels put the simulated machines'
// TDX module (or microcode) below UpToDate.
const (
	standardEvalNumber = 17
	earlyEvalNumber    = 18
)

// Component names as Intel's TCB info v3 gives them (category, type).
var (
	sgxComponentNames = [][2]string{
		{"BIOS", "Early Microcode Update"}, {"OS/VMM", "SGX Late Microcode Update"}, {"OS/VMM", "TXT SINIT"},
		{"BIOS", ""}, {"BIOS", ""}, {"BIOS", ""}, {"BIOS", ""}, {"BIOS", ""},
	}
	tdxComponentNames = [][2]string{{"OS/VMM", "TDX Module"}, {"OS/VMM", "TDX Module"}, {"OS/VMM", "TDX Late Microcode Update"}}
)

func namedComponents(svn []byte, names [][2]string) []map[string]any {
	out := make([]map[string]any, 16)
	for i := range out {
		c := map[string]any{"svn": 0}
		if i < len(svn) {
			c["svn"] = svn[i]
		}
		if i < len(names) {
			c["category"] = names[i][0]
			if names[i][1] != "" {
				c["type"] = names[i][1]
			}
		}
		out[i] = c
	}
	return out
}

func (p *PCS) recoveryDate() time.Time {
	in := p.RecoveryIn
	if in == 0 {
		in = 14 * 24 * time.Hour
	}
	return p.now().Add(in).UTC().Truncate(24 * time.Hour)
}

// earlyTcbInfo is the TCB info PCS serves for update=early.
func (p *PCS) earlyTcbInfo(pk *pki, fmspc string) ([]byte, error) {
	info := p.tcbInfoBody(fmspc)
	switch p.EarlyRecovery {
	case "none":
	case "", "tdx-module", "microcode":
		cpu, tdx := DefaultCPUSVN, DefaultTeeTcbSvn
		if p.EarlyRecovery == "microcode" {
			cpu[1]++
		} else {
			tdx[0]++
		}
		level := func(cpu, tdx []byte, st string, adv []string) map[string]any {
			l := map[string]any{
				"tcb": map[string]any{
					"sgxtcbcomponents": namedComponents(cpu, sgxComponentNames), "pcesvn": pceSvn,
					"tdxtcbcomponents": namedComponents(tdx, tdxComponentNames),
				},
				"tcbDate": p.recoveryDate().Add(24 * time.Hour).Format(time.RFC3339), "tcbStatus": st,
			}
			if len(adv) > 0 {
				l["advisoryIDs"] = adv
			}
			return l
		}
		info["tcbEvaluationDataNumber"] = earlyEvalNumber
		info["tcbLevels"] = []any{
			level(cpu[:], tdx[:], "UpToDate", nil),
			level(DefaultCPUSVN[:], DefaultTeeTcbSvn[:], "OutOfDate", []string{"INTEL-SA-99999"}),
			level(nil, nil, "OutOfDate", []string{"INTEL-SA-00000", "INTEL-SA-99999"}),
		}
		if p.EarlyRecovery != "microcode" {
			var modules []any
			for v := 1; v <= 3; v++ {
				modules = append(modules, map[string]any{
					"id": fmt.Sprintf("TDX_%02X", v), "mrsigner": strings.Repeat("00", 48), "attributes": "0000000000000000", "attributesMask": "FFFFFFFFFFFFFFFF",
					"tcbLevels": []any{
						map[string]any{"tcb": map[string]any{"isvsvn": DefaultTeeTcbSvn[0] + 1}, "tcbDate": p.recoveryDate().Format(time.RFC3339), "tcbStatus": "UpToDate"},
						map[string]any{"tcb": map[string]any{"isvsvn": 0}, "tcbDate": "2024-01-01T00:00:00Z", "tcbStatus": "OutOfDate", "advisoryIDs": []string{"INTEL-SA-99999"}},
					},
				})
			}
			info["tdxModuleIdentities"] = modules
		}
	default:
		return nil, fmt.Errorf("unknown PCS.EarlyRecovery %q (want tdx-module, microcode or none)", p.EarlyRecovery)
	}
	body, err := signedJSON(pk, "tcbInfo", info)
	if err != nil || !p.TamperEarly {
		return body, err
	}
	n := fmt.Sprintf(`"tcbEvaluationDataNumber":%v`, info["tcbEvaluationDataNumber"])
	if !bytes.Contains(body, []byte(n)) {
		return nil, fmt.Errorf("tamper: %s not in the early TCB info", n)
	}
	// An attacker hiding the recovery: the number goes back, the signature stays.
	return bytes.Replace(body, []byte(n), []byte(fmt.Sprintf(`"tcbEvaluationDataNumber":%d`, standardEvalNumber-1)), 1), nil
}

// evaluationDataNumbers is PCS's /tcbevaluationdatanumbers answer: each
// number with its TCB recovery event date, newest first.
func (p *PCS) evaluationDataNumbers(pk *pki) ([]byte, error) {
	issue, next := p.window()
	day := 24 * time.Hour
	rec := p.recoveryDate()
	entry := func(n int, event time.Time) map[string]any {
		return map[string]any{"tcbEvaluationDataNumber": n, "tcbRecoveryEventDate": event.Format(time.RFC3339),
			"tcbDate": event.Add(day).Format(time.RFC3339)}
	}
	var nums []any
	if p.EarlyRecovery != "none" {
		nums = append(nums, entry(earlyEvalNumber, rec))
	}
	nums = append(nums, entry(standardEvalNumber, rec.Add(-180*day)), entry(standardEvalNumber-1, rec.Add(-360*day)))
	return signedJSON(pk, "tcbEvaluationDataNumbers", map[string]any{
		"id": "TDX", "version": 1, "issueDate": issue.UTC().Format(time.RFC3339), "nextUpdate": next.UTC().Format(time.RFC3339),
		"tcbEvalNumbers": nums,
	})
}
