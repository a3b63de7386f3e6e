package attestation

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/cctest/cctest/attest/client"
)

// nonceState is one issued challenge.
type nonceState struct {
	expires time.Time
	context string // "" = any
	usedAt  time.Time
	usedBy  string // context of the first submission
}

// store holds issued nonces and recent verdicts, both bounded.
type store struct {
	mu       sync.Mutex
	nonces   map[string]*nonceState
	verdicts map[string]client.Record
	order    []string // verdict IDs, oldest first
	maxVerd  int
	maxNonce int
}

func newStore(maxVerdicts, maxNonces int) *store {
	return &store{nonces: map[string]*nonceState{}, verdicts: map[string]client.Record{}, maxVerd: maxVerdicts, maxNonce: maxNonces}
}

// issue creates a nonce valid until expires.
func (s *store) issue(now, expires time.Time, context string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	n := hex.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.nonces) >= s.maxNonce {
		s.sweep(now)
		if len(s.nonces) >= s.maxNonce {
			return "", fmt.Errorf("too many outstanding challenges (%d); try again later", len(s.nonces))
		}
	}
	s.nonces[n] = &nonceState{expires: expires, context: context}
	return n, nil
}

// sweep forgets expired nonces. Used nonces are kept until they expire so a
// replay is reported as a replay, not as an unknown nonce.
func (s *store) sweep(now time.Time) {
	for n, st := range s.nonces {
		if now.After(st.expires) {
			delete(s.nonces, n)
		}
	}
}

// redeem marks a nonce used; it returns "" when the submission may proceed,
// otherwise why not.
// reuse is the service-accepts-replay fault: used nonces stay good.
func (s *store) redeem(nonce, context string, now time.Time, reuse bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.nonces[nonce]
	switch {
	case !ok:
		return "nonce " + short(nonce) + " was not issued by this service (or expired long ago): ask POST /v1/challenge for a fresh one"
	case !st.usedAt.IsZero() && !reuse:
		return fmt.Sprintf("nonce %s was already used at %s for %q: nonces are single-use, so this is a replayed submission",
			short(nonce), st.usedAt.UTC().Format(time.RFC3339Nano), st.usedBy)
	case now.After(st.expires):
		st.usedAt, st.usedBy = now, context
		return fmt.Sprintf("nonce %s expired at %s: evidence must be submitted while the challenge is fresh", short(nonce), st.expires.UTC().Format(time.RFC3339))
	case st.context != "" && st.context != context:
		st.usedAt, st.usedBy = now, context
		return fmt.Sprintf("nonce %s was issued for %q, not %q", short(nonce), st.context, context)
	}
	st.usedAt, st.usedBy = now, context
	return ""
}

// release gives back a nonce whose evidence was refused: only a passing
// verdict uses it up, so a caller can show that bad variants of evidence are
// refused and the genuine one, under the same nonce, then passes.
func (s *store) release(nonce string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.nonces[nonce]; ok {
		st.usedAt, st.usedBy = time.Time{}, ""
	}
}

func (s *store) put(r client.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.order) >= s.maxVerd {
		delete(s.verdicts, s.order[0])
		s.order = s.order[1:]
	}
	s.verdicts[r.ID] = r
	s.order = append(s.order, r.ID)
}

func (s *store) get(id string) (client.Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.verdicts[id]
	return r, ok
}

func short(hexNonce string) string {
	if len(hexNonce) > 16 {
		return hexNonce[:16] + "…"
	}
	return hexNonce
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
