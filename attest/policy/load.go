package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// maxPolicySize bounds what Load accepts; a policy is a few KiB.
const maxPolicySize = 1 << 20

// LoadFile reads and loads a policy file; errors name the file.
func LoadFile(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	p, err := Load(data)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	return p, nil
}

// Load parses a YAML (or JSON) policy strictly: unknown fields, wrong types
// and bad values are errors naming the field path. Defaults are applied.
func Load(data []byte) (*Policy, error) {
	if len(data) > maxPolicySize {
		return nil, fmt.Errorf("policy is %d bytes, larger than the %d-byte limit", len(data), maxPolicySize)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("policy is empty")
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("not valid YAML: %v", err)
	}
	var generic any
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return nil, fmt.Errorf("not valid YAML: %v", err)
	}
	if _, ok := generic.(map[string]any); !ok {
		return nil, fmt.Errorf("policy must be a mapping (apiVersion, kind, name, ...), got %s", jsonKind(generic))
	}
	if errs := unknownFields(generic, reflect.TypeOf(Policy{}), ""); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var p Policy
	strict := json.NewDecoder(bytes.NewReader(js))
	strict.DisallowUnknownFields()
	if err := strict.Decode(&p); err != nil {
		return nil, describeDecodeError(err)
	}
	p.applyDefaults()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

func (p *Policy) applyDefaults() {
	if len(p.TrustRoots) == 0 {
		p.TrustRoots = []string{RootsVendor}
	}
	if p.Nonce == "" {
		p.Nonce = NonceRequired
	}
	if p.Collateral.CheckRevocations {
		p.Collateral.Verify = true
	}
}

// Validate checks values a decoder cannot: enums, hex sizes, non-empty
// allowlists. Every error names its field path.
func (p *Policy) Validate() error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if p.APIVersion != APIVersion {
		add("apiVersion", "must be %q, got %q", APIVersion, p.APIVersion)
	}
	if p.Kind != Kind {
		add("kind", "must be %q, got %q", Kind, p.Kind)
	}
	if strings.TrimSpace(p.Name) == "" {
		add("name", "must be set")
	}
	for i, r := range p.TrustRoots {
		if r != RootsVendor && r != RootsSimulated {
			add(fmt.Sprintf("trustRoots[%d]", i), "unknown root %q (want %q or %q)", r, RootsVendor, RootsSimulated)
		}
		if slices.Index(p.TrustRoots, r) != i {
			add(fmt.Sprintf("trustRoots[%d]", i), "%q listed twice", r)
		}
	}
	if p.Nonce != NonceRequired && p.Nonce != NonceOptional {
		add("nonce", "must be %q or %q, got %q", NonceRequired, NonceOptional, p.Nonce)
	}
	if p.TDX == nil && p.SNP == nil {
		add("tdx/snp", "the policy allows no TEE: add a tdx and/or snp section")
	}
	if t := p.TDX; t != nil {
		if len(t.AllowedMeasurements) == 0 {
			add("tdx.allowedMeasurements", "must list at least one measurement")
		}
		for i, m := range t.AllowedMeasurements {
			path := fmt.Sprintf("tdx.allowedMeasurements[%d]", i)
			if strings.TrimSpace(m.Name) == "" {
				add(path+".name", "must be set")
			}
			if m.MRTD == "" {
				add(path+".mrtd", "must be set (48 bytes, hex)")
			} else {
				checkHex(add, path+".mrtd", m.MRTD, MeasurementSize)
			}
			for j, r := range []string{m.RTMR0, m.RTMR1, m.RTMR2, m.RTMR3} {
				if r != "" {
					checkHex(add, fmt.Sprintf("%s.rtmr%d", path, j), r, MeasurementSize)
				}
			}
			eventsOK := true
			for k, e := range m.Events {
				ep := fmt.Sprintf("%s.events[%d]", path, k)
				if e.RTMR < 0 || e.RTMR > 3 {
					add(ep+".rtmr", "must be 0-3, got %d", e.RTMR)
					eventsOK = false
				}
				if e.Digest == "" {
					add(ep+".digest", "must be set (SHA-384, 48 bytes, hex)")
					eventsOK = false
				} else if b, err := DecodeHex(e.Digest); err != nil || len(b) != MeasurementSize {
					checkHex(add, ep+".digest", e.Digest, MeasurementSize)
					eventsOK = false
				}
			}
			if eventsOK {
				replayed, pinned := m.EventRTMRs(), m.RTMRBytes()
				for j := range replayed {
					if replayed[j] != nil && pinned[j] != nil && !bytes.Equal(replayed[j], pinned[j]) {
						add(fmt.Sprintf("%s.events", path), "the events of RTMR%d replay to %x, not to the pinned rtmr%d", j, replayed[j], j)
					}
				}
			}
		}
		for i, st := range t.AcceptTcbStatuses {
			path := fmt.Sprintf("tdx.acceptTcbStatuses[%d]", i)
			switch {
			case st == TCBRevoked:
				add(path, "%q can never be accepted (the TCB has been revoked)", st)
			case !slices.Contains(TCBStatuses, st):
				add(path, "unknown TCB status %q (want one of %s)", st, strings.Join(TCBStatuses[:len(TCBStatuses)-1], ", "))
			case slices.Index(t.AcceptTcbStatuses, st) != i:
				add(path, "%q listed twice", st)
			}
		}
		if len(t.AcceptTcbStatuses) > 0 && !p.Collateral.Verify {
			add("tdx.acceptTcbStatuses", "needs collateral.verify: true (the TCB status comes from Intel PCS TCB info)")
		}
		if t.WarnUpcomingOutOfDate && !p.Collateral.Verify {
			add("tdx.warnUpcomingOutOfDate", "needs collateral.verify: true (the forecast comes from Intel PCS early TCB info)")
		}
		if t.MinimumTeeTcbSvn != "" {
			checkHex(add, "tdx.minimumTeeTcbSvn", t.MinimumTeeTcbSvn, TeeTcbSvnSize)
		}
		if t.MrSeam != "" {
			checkHex(add, "tdx.mrSeam", t.MrSeam, MeasurementSize)
		}
		if t.MinimumTeeTcbSvn2 != "" {
			checkHex(add, "tdx.minimumTeeTcbSvn2", t.MinimumTeeTcbSvn2, TeeTcbSvnSize)
		}
		if t.MrServiceTd != "" {
			checkHex(add, "tdx.mrServiceTd", t.MrServiceTd, MeasurementSize)
		}
		for path, v := range map[string]string{"tdx.mrConfigId": t.MrConfigID, "tdx.mrOwner": t.MrOwner, "tdx.mrOwnerConfig": t.MrOwnerConfig} {
			if v != "" {
				checkHex(add, path, v, MeasurementSize)
			}
		}
	}
	if s := p.SNP; s != nil {
		if s.HostData != "" {
			checkHex(add, "snp.hostData", s.HostData, 32)
		}
		for i, d := range s.IDKeyDigests {
			checkHex(add, fmt.Sprintf("snp.idKeyDigests[%d]", i), d, MeasurementSize)
		}
		for i, d := range s.AuthorKeyDigests {
			checkHex(add, fmt.Sprintf("snp.authorKeyDigests[%d]", i), d, MeasurementSize)
		}
		if len(s.AllowedMeasurements) == 0 {
			add("snp.allowedMeasurements", "must list at least one measurement")
		}
		for i, m := range s.AllowedMeasurements {
			path := fmt.Sprintf("snp.allowedMeasurements[%d]", i)
			if strings.TrimSpace(m.Name) == "" {
				add(path+".name", "must be set")
			}
			if m.Measurement == "" {
				add(path+".measurement", "must be set (48 bytes, hex)")
			} else {
				checkHex(add, path+".measurement", m.Measurement, MeasurementSize)
			}
		}
		if s.VMPL != nil && *s.VMPL > 3 {
			add("snp.vmpl", "must be 0-3, got %d", *s.VMPL)
		}
		if t := s.MinimumTCB; t != nil {
			for name, v := range map[string]uint8{"bootloader": t.Bootloader, "tee": t.TEE, "snp": t.SNP} {
				if v > 127 {
					add("snp.minimumTCB."+name, "must be 0-127, got %d", v)
				}
			}
		}
		for i, pl := range s.ProductLines {
			if !slices.Contains(knownProductLines, pl) {
				add(fmt.Sprintf("snp.productLines[%d]", i), "unknown product line %q (want one of %s)", pl, strings.Join(knownProductLines, ", "))
			}
		}
	}
	if a := p.Azure; a != nil {
		if p.SNP == nil {
			add("azure", "needs an snp section: the SEV-SNP report inside Azure evidence is checked under it")
		}
		for i, r := range a.PCRs {
			path := fmt.Sprintf("azure.pcrs[%d]", i)
			if r.Index < 0 || r.Index > 23 {
				add(path+".index", "must be 0-23, got %d", r.Index)
			}
			checkHex(add, path+".sha256", r.SHA256, 32)
		}
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

func checkHex(add func(path, format string, args ...any), path, value string, size int) {
	b, err := DecodeHex(value)
	if err != nil {
		add(path, "not hex: %v", err)
		return
	}
	if len(b) != size {
		add(path, "must be %d bytes (%d hex characters), got %d bytes", size, 2*size, len(b))
	}
}

// unknownFields walks the decoded document against the Go type and reports
// every key the type does not have, with its full path and a suggestion.
func unknownFields(v any, t reflect.Type, path string) []error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var errs []error
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil // a type error; the strict decoder reports it
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := joinPath(path, k)
			ft, ok := fields[k]
			if !ok {
				errs = append(errs, fmt.Errorf("%s: unknown field%s", p, suggest(k, fields)))
				continue
			}
			errs = append(errs, unknownFields(obj[k], ft, p)...)
		}
	case reflect.String:
		switch v.(type) {
		case json.Number, bool:
			errs = append(errs, fmt.Errorf("%s: expected a string, got %s %v (quote hex values: YAML reads 0123... as a number)", path, jsonKind(v), v))
		}
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			return nil
		}
		for i, e := range arr {
			errs = append(errs, unknownFields(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return errs
}

func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		out[name] = f.Type
	}
	return out
}

func suggest(k string, fields map[string]reflect.Type) string {
	lk := strings.ToLower(k)
	var names []string
	for name := range fields {
		names = append(names, name)
		if strings.ToLower(name) == lk {
			return fmt.Sprintf(" (did you mean %q? names are case-sensitive)", name)
		}
	}
	switch lk {
	case "allowdebug", "debug", "debugallowed":
		return " (debug guests are always forbidden; there is no switch)"
	case "allowmigratable", "migratable":
		return " (migratable TDs are always forbidden; there is no switch)"
	}
	sort.Strings(names)
	return fmt.Sprintf(" (known fields: %s)", strings.Join(names, ", "))
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "a list"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

func describeDecodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "(document)"
		}
		return fmt.Errorf("%s: expected %s, got %s", field, typeName(te.Type), te.Value)
	}
	return fmt.Errorf("cannot decode policy: %v", err)
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice:
		return "a list"
	case reflect.Struct, reflect.Pointer, reflect.Map:
		return "a mapping"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	}
	return t.Kind().String()
}
