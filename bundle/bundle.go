// Package bundle signs a cctest report directory and verifies it: an
// in-toto Statement v1 whose subjects are every file of the bundle (as its
// manifest lists them, and manifest.json itself) with its sha256, and whose
// predicate is the run's certification (verdict, environment, policy, node
// types and their measurements), in a DSSE envelope signed with an ECDSA
// P-256 or Ed25519 key.
//
// It reads bundles written by reports.WriteBundle; it does not run anything.
package bundle

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/onsi/ginkgo/v2/types"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/cctest/cctest/reports"
)

const (
	// FileName is the signed statement, next to manifest.json.
	FileName = reports.AttestationName
	// PayloadType is the DSSE payload type of an in-toto statement.
	PayloadType = "application/vnd.in-toto+json"
	// PredicateType says the predicate is a Predicate.
	PredicateType = "https://cctest.dev/certification/v1"
)

// maxEnvelopeSize bounds what Verify reads: the statement lists file
// digests and a summary, not the evidence itself.
const maxEnvelopeSize = 64 << 20

// UsageError is unusable input: a bad key, no bundle, no signature.
// Nothing was verified.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// IsUsage reports whether err is a UsageError.
func IsUsage(err error) bool {
	var u *UsageError
	return errors.As(err, &u)
}

// Predicate is what the signer certifies about the run.
type Predicate struct {
	Suite       string               `json:"suite,omitempty"`
	Verdict     Verdict              `json:"verdict"`
	Environment *reports.Environment `json:"environment,omitempty"`
	Policy      *Policy              `json:"policy,omitempty"`
	NodeTypes   []NodeType           `json:"nodeTypes,omitempty"`
	// ManifestCreatedAt is when the bundle's manifest was written.
	ManifestCreatedAt time.Time `json:"manifestCreatedAt"`
	SignedAt          time.Time `json:"signedAt"`
}

// Verdict is reports.Summarize of the run.
type Verdict struct {
	Result  string         `json:"result"` // PASS or FAIL
	Reasons []string       `json:"reasons,omitempty"`
	Counts  map[string]int `json:"counts"` // It specs per status
	Specs   int            `json:"specs"`
	Planned int            `json:"planned"`
	Ran     int            `json:"ran"`
	DryRun  bool           `json:"dryRun,omitempty"`
}

// Policy is the attestation policy the run used, when the run recorded it.
type Policy struct {
	Name string `json:"name,omitempty"`
	// Digest is the sha256 of the policy YAML the environment recorded.
	Digest map[string]string `json:"digest,omitempty"`
}

// NodeType is one node type's attested nodes.
type NodeType struct {
	Name         string   `json:"name"` // empty: nodes with no node type recorded
	Pass         bool     `json:"pass"` // every node's evidence verified
	Measurements []string `json:"measurements,omitempty"`
	Nodes        []Node   `json:"nodes"`
}

// Node is one evidence record of a node.
type Node struct {
	Name         string   `json:"name"`
	TEE          string   `json:"tee,omitempty"`
	Pass         bool     `json:"pass"`
	Reason       string   `json:"reason,omitempty"`
	Measurement  string   `json:"measurement,omitempty"`
	RTMRs        []string `json:"rtmrs,omitempty"`
	MatchedImage string   `json:"matchedImage,omitempty"`
	TCB          string   `json:"tcb,omitempty"`
	Simulated    bool     `json:"simulated"`
}

// Signed is what Sign wrote.
type Signed struct {
	Path      string
	KeyID     string
	Subjects  int
	Predicate Predicate
}

// Sign signs the bundle in dir with key and writes dir/attestation.dsse.json
// (through a temporary file: an earlier one stays until the new one is
// complete). The bundle must match its manifest.
func Sign(dir string, key crypto.Signer) (Signed, error) {
	if err := isBundleDir(dir); err != nil {
		return Signed{}, err
	}
	m, err := readManifest(dir)
	if err != nil {
		return Signed{}, err
	}
	problems, err := reports.CheckManifest(dir)
	if err != nil {
		return Signed{}, err
	}
	if len(problems) > 0 {
		return Signed{}, fmt.Errorf("%s does not match its manifest, not signing it (re-render it with cctest report --from %s --bundle %s):\n  %s",
			dir, filepath.Join(dir, reports.JSONName), dir, strings.Join(problems, "\n  "))
	}
	r, err := reports.Load(filepath.Join(dir, reports.JSONName))
	if err != nil {
		return Signed{}, &UsageError{fmt.Sprintf("%s: %v", dir, err)}
	}
	pred := predicateOf(r, m)

	var subjects []*intoto.ResourceDescriptor
	for _, f := range m.Files {
		subjects = append(subjects, subject(f.Path, f.SHA256))
	}
	mb, err := os.ReadFile(filepath.Join(dir, reports.ManifestName))
	if err != nil {
		return Signed{}, err
	}
	sum := sha256.Sum256(mb)
	subjects = append(subjects, subject(reports.ManifestName, hex.EncodeToString(sum[:])))

	pj, err := json.Marshal(pred)
	if err != nil {
		return Signed{}, err
	}
	var ps structpb.Struct
	if err := protojson.Unmarshal(pj, &ps); err != nil {
		return Signed{}, fmt.Errorf("predicate: %w", err)
	}
	st := &intoto.Statement{Type: intoto.StatementTypeUri, Subject: subjects, PredicateType: PredicateType, Predicate: &ps}
	if err := st.Validate(); err != nil {
		return Signed{}, fmt.Errorf("statement: %w", err)
	}
	payload, err := protojson.Marshal(st)
	if err != nil {
		return Signed{}, fmt.Errorf("statement: %w", err)
	}
	sv, err := newSignerVerifier(key, key.Public())
	if err != nil {
		return Signed{}, &UsageError{fmt.Sprintf("key: %v", err)}
	}
	es, err := dsse.NewEnvelopeSigner(sv)
	if err != nil {
		return Signed{}, err
	}
	env, err := es.SignPayload(context.Background(), PayloadType, payload)
	if err != nil {
		return Signed{}, fmt.Errorf("sign: %w", err)
	}
	eb, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return Signed{}, err
	}
	path := filepath.Join(dir, FileName)
	if err := reports.WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write(append(eb, '\n')); return err }); err != nil {
		return Signed{}, err
	}
	return Signed{Path: path, KeyID: sv.id, Subjects: len(subjects), Predicate: pred}, nil
}

func subject(name, sha string) *intoto.ResourceDescriptor {
	return &intoto.ResourceDescriptor{Name: name, Digest: map[string]string{"sha256": sha}}
}

func isBundleDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return &UsageError{fmt.Sprintf("no bundle: %v", err)}
	}
	if !fi.IsDir() {
		return &UsageError{fmt.Sprintf("no bundle: %s is not a directory (give the report directory of a run)", dir)}
	}
	return nil
}

func readManifest(dir string) (reports.Manifest, error) {
	var m reports.Manifest
	b, err := os.ReadFile(filepath.Join(dir, reports.ManifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return m, &UsageError{fmt.Sprintf("no bundle: %s has no %s (cctest run and cctest report --bundle write one)", dir, reports.ManifestName)}
	}
	if err != nil {
		return m, &UsageError{err.Error()}
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, &UsageError{fmt.Sprintf("%s: %v", filepath.Join(dir, reports.ManifestName), err)}
	}
	return m, nil
}

// predicateOf summarizes the run the way cctest run and the report page do.
func predicateOf(r types.Report, m reports.Manifest) Predicate {
	s := reports.Summarize(r)
	p := Predicate{Suite: r.SuiteDescription, ManifestCreatedAt: m.CreatedAt, SignedAt: time.Now().UTC().Truncate(time.Second)}
	p.Verdict = Verdict{Result: "FAIL", Reasons: s.Reasons, Counts: map[string]int{}, Specs: s.Specs, Planned: s.Planned, Ran: s.Ran, DryRun: s.DryRun}
	if s.Pass {
		p.Verdict.Result = "PASS"
	}
	for _, c := range s.Counts {
		p.Verdict.Counts[c.State] = c.N
	}
	if env, ok := reports.EnvironmentOf(r); ok {
		p.Environment = &env
		if env.PolicyName != "" || env.PolicyYAML != "" {
			p.Policy = &Policy{Name: env.PolicyName}
			if env.PolicyYAML != "" {
				sum := sha256.Sum256([]byte(env.PolicyYAML))
				p.Policy.Digest = map[string]string{"sha256": hex.EncodeToString(sum[:])}
			}
		}
	}
	byType := map[string]*NodeType{}
	var order []string
	for _, rec := range reports.EvidenceRecords(r) {
		if rec.Kind != "node" {
			continue
		}
		nt := byType[rec.NodeType]
		if nt == nil {
			nt = &NodeType{Name: rec.NodeType, Pass: true}
			byType[rec.NodeType] = nt
			order = append(order, rec.NodeType)
		}
		v := rec.Verdict
		nt.Nodes = append(nt.Nodes, Node{Name: rec.Subject, TEE: rec.TEE, Pass: v.Pass, Reason: v.Reason,
			Measurement: v.Measurement, RTMRs: v.RTMRs, MatchedImage: v.MatchedImage, TCB: v.TCB, Simulated: v.Simulated})
		nt.Pass = nt.Pass && v.Pass
		if v.Measurement != "" && !contains(nt.Measurements, v.Measurement) {
			nt.Measurements = append(nt.Measurements, v.Measurement)
		}
	}
	sort.Strings(order)
	for _, name := range order {
		nt := byType[name]
		sort.Strings(nt.Measurements)
		p.NodeTypes = append(p.NodeTypes, *nt)
	}
	return p
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Verified is what Verify found. The bundle verifies when Problems is
// empty.
type Verified struct {
	KeyID     string
	Subjects  int
	Predicate Predicate
	Problems  []string // one per failure, naming the file
}

// Verify checks dir/attestation.dsse.json: its DSSE signature with pub, the
// statement, and every file in dir against the statement's subjects
// (missing, changed and extra files are each named). An error is unusable
// input (a UsageError) or an I/O failure; a bundle that fails verification
// returns Problems.
func Verify(dir string, pub crypto.PublicKey) (Verified, error) {
	var out Verified
	if err := isBundleDir(dir); err != nil {
		return out, err
	}
	f, err := os.Open(filepath.Join(dir, FileName))
	if errors.Is(err, fs.ErrNotExist) {
		return out, &UsageError{fmt.Sprintf("%s has no %s: not signed (cctest bundle sign --key KEY %s)", dir, FileName, dir)}
	}
	if err != nil {
		return out, &UsageError{err.Error()}
	}
	raw, err := io.ReadAll(io.LimitReader(f, maxEnvelopeSize+1))
	f.Close()
	if err != nil {
		return out, err
	}
	fail := func(format string, a ...any) (Verified, error) {
		out.Problems = append(out.Problems, fmt.Sprintf(format, a...))
		return out, nil
	}
	if len(raw) > maxEnvelopeSize {
		return fail("%s: larger than %d MiB: not a cctest attestation", FileName, maxEnvelopeSize>>20)
	}
	var env dsse.Envelope
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&env); err != nil {
		return fail("%s: not a DSSE envelope: %v", FileName, err)
	}
	if env.PayloadType != PayloadType {
		return fail("%s: payload type %q, want %q", FileName, env.PayloadType, PayloadType)
	}
	sv, err := newSignerVerifier(nil, pub)
	if err != nil {
		return out, &UsageError{fmt.Sprintf("key: %v", err)}
	}
	ev, err := dsse.NewEnvelopeVerifier(sv)
	if err != nil {
		return out, err
	}
	accepted, payload, err := ev.VerifyAndDecode(context.Background(), &env)
	if err != nil || len(accepted) == 0 {
		return fail("%s: the signature does not verify with key %s (signed with another key, or the envelope was changed): %v", FileName, sv.id, err)
	}
	out.KeyID = sv.id

	var st intoto.Statement
	if err := protojson.Unmarshal(payload, &st); err != nil {
		return fail("%s: the signed payload is not an in-toto statement: %v", FileName, err)
	}
	if st.GetType() != intoto.StatementTypeUri {
		return fail("%s: statement type %q, want %q", FileName, st.GetType(), intoto.StatementTypeUri)
	}
	if err := st.Validate(); err != nil {
		return fail("%s: invalid statement: %v", FileName, err)
	}
	if st.GetPredicateType() != PredicateType {
		return fail("%s: predicate type %q, want %q", FileName, st.GetPredicateType(), PredicateType)
	}
	if pj, err := protojson.Marshal(st.GetPredicate()); err == nil {
		if err := json.Unmarshal(pj, &out.Predicate); err != nil {
			out.Problems = append(out.Problems, fmt.Sprintf("%s: predicate is not a cctest certification: %v", FileName, err))
		}
	}

	want := map[string]string{}
	for _, s := range st.GetSubject() {
		d := s.GetDigest()["sha256"]
		switch {
		case d == "":
			out.Problems = append(out.Problems, fmt.Sprintf("%s: subject %q has no sha256", FileName, s.GetName()))
		case want[s.GetName()] != "":
			out.Problems = append(out.Problems, fmt.Sprintf("%s: subject %q listed twice", FileName, s.GetName()))
		default:
			want[s.GetName()] = strings.ToLower(d)
		}
	}
	out.Subjects = len(want)
	have, odd, err := hashDir(dir)
	if err != nil {
		return out, err
	}
	var problems []string
	for name, d := range want {
		h, ok := have[name]
		switch {
		case !ok:
			problems = append(problems, name+": missing")
		case h != d:
			problems = append(problems, name+": sha256 differs from the signed statement")
		}
		delete(have, name)
	}
	for name := range have {
		problems = append(problems, name+": not in the signed statement")
	}
	problems = append(problems, odd...)
	sort.Strings(problems)
	out.Problems = append(out.Problems, problems...)
	return out, nil
}

// hashDir returns the sha256 of every regular file under dir except the
// attestation, by slash-separated relative path, and one problem per entry
// that is neither a file nor a directory (a symlink could point anywhere).
func hashDir(dir string) (map[string]string, []string, error) {
	have := map[string]string{}
	var odd []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir() || rel == FileName:
			return nil
		case !d.Type().IsRegular():
			odd = append(odd, rel+": not a regular file ("+d.Type().String()+"), not in the signed statement")
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return fmt.Errorf("hash %s: %w", rel, err)
		}
		have[rel] = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	return have, odd, err
}
