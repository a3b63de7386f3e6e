// Package release is a node image release's measurement record (what
// `cctest measure` writes from a trusted machine's evidence) and the policy
// edit that allows it (`cctest policy add-release`).
package release

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cctest/cctest/api/teename"
	"github.com/cctest/cctest/attest/eventlog"
	"github.com/cctest/cctest/attest/policy"
)

// Record identification. Version is bumped on incompatible changes; Load
// refuses versions it does not know.
const (
	APIVersion = "cctest.dev/v1alpha1"
	Kind       = "ReleaseMeasurement"
	Version    = 1
)

// maxRecordSize bounds what Load accepts.
const maxRecordSize = 4 << 20

// Record is one node image release measured on one node type / VM size
// (TDX RTMR0 and the SNP launch measurement depend on vCPUs and memory).
type Record struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Version    int    `json:"version"`
	// Name names the release in policy allowlists ("node-image-2026.12-tdx-8c").
	Name     string `json:"name"`
	NodeType string `json:"nodeType,omitempty"`
	VMSize   string `json:"vmSize,omitempty"`
	TEE      string `json:"tee"`
	// Source is where the evidence came from.
	Source     string    `json:"source,omitempty"`
	MeasuredAt time.Time `json:"measuredAt"`
	TDX        *TDX      `json:"tdx,omitempty"`
	SNP        *SNP      `json:"snp,omitempty"`
}

// TDX holds a TD's measurements, hex.
type TDX struct {
	MRTD  string `json:"mrtd"`
	RTMR0 string `json:"rtmr0"`
	RTMR1 string `json:"rtmr1"`
	RTMR2 string `json:"rtmr2"`
	// Events behind RTMR0-2 (the CCEL log replayed to the quote's RTMRs);
	// empty when the evidence carried no event log.
	Events []eventlog.Event `json:"events,omitempty"`
}

// SNP holds an SEV-SNP guest's launch identity.
type SNP struct {
	Measurement string `json:"measurement"`
	// GuestPolicy is the report's POLICY (hex, 0x-prefixed).
	GuestPolicy string `json:"guestPolicy"`
	FamilyID    string `json:"familyID"`
	ImageID     string `json:"imageID"`
}

// Validate checks a record's required fields and sizes.
func (r *Record) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if r.APIVersion != APIVersion || r.Kind != Kind {
		add("apiVersion/kind must be %s/%s, got %q/%q", APIVersion, Kind, r.APIVersion, r.Kind)
	}
	if r.Version != Version {
		add("version %d is not supported (this cctest reads version %d)", r.Version, Version)
	}
	if strings.TrimSpace(r.Name) == "" {
		add("name must be set")
	}
	hexField := func(path, v string, size int) {
		b, err := policy.DecodeHex(v)
		if err != nil || len(b) != size {
			add("%s must be %d bytes of hex, got %q", path, size, v)
		}
	}
	switch r.TEE {
	case teename.TDX:
		if r.TDX == nil {
			add("tdx section missing for tee %q", r.TEE)
			break
		}
		hexField("tdx.mrtd", r.TDX.MRTD, policy.MeasurementSize)
		for i, v := range []string{r.TDX.RTMR0, r.TDX.RTMR1, r.TDX.RTMR2} {
			hexField(fmt.Sprintf("tdx.rtmr%d", i), v, policy.MeasurementSize)
		}
		for i, e := range r.TDX.Events {
			if e.RTMR < 0 || e.RTMR > 2 {
				add("tdx.events[%d].rtmr must be 0-2, got %d", i, e.RTMR)
			}
			hexField(fmt.Sprintf("tdx.events[%d].digest", i), e.Digest, eventlog.DigestSize)
		}
		if len(errs) == 0 && len(r.TDX.Events) > 0 {
			replayed := eventlog.ReplayEvents(r.TDX.Events)
			for i, v := range []string{r.TDX.RTMR0, r.TDX.RTMR1, r.TDX.RTMR2} {
				if b, _ := policy.DecodeHex(v); !bytes.Equal(b, replayed[i]) {
					add("tdx.events of RTMR%d replay to %x, not to tdx.rtmr%d", i, replayed[i], i)
				}
			}
		}
	case teename.SNP:
		if r.SNP == nil {
			add("snp section missing for tee %q", r.TEE)
			break
		}
		hexField("snp.measurement", r.SNP.Measurement, policy.MeasurementSize)
		hexField("snp.familyID", r.SNP.FamilyID, 16)
		hexField("snp.imageID", r.SNP.ImageID, 16)
	default:
		add("tee must be %q or %q, got %q", teename.TDX, teename.SNP, r.TEE)
	}
	return errors.Join(errs...)
}

// Load reads a record strictly (unknown fields are errors) and validates it.
func Load(data []byte) (*Record, error) {
	if len(data) > maxRecordSize {
		return nil, fmt.Errorf("release record is %d bytes, larger than the %d-byte limit", len(data), maxRecordSize)
	}
	var r Record
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("release record: not valid JSON: %v", err)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("release record: %w", err)
	}
	return &r, nil
}

// LoadFile reads and loads a record; errors name the file.
func LoadFile(path string) (*Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := Load(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// Marshal renders the record as indented JSON.
func (r *Record) Marshal() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// WriteFile writes the record atomically (temporary file in the same
// directory, then rename): a reader never sees half a record.
func (r *Record) WriteFile(path string) error {
	data, err := r.Marshal()
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, data, 0o644)
}

// WriteFileAtomic writes data to a temporary file next to path and renames
// it over path; on any error path is left as it was.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
