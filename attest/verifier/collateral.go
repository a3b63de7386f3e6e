package verifier

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	sevtrust "github.com/google/go-sev-guest/verify/trust"
	tdxtrust "github.com/google/go-tdx-guest/verify/trust"
)

// CollateralDir records collateral (Intel PCS TCB info / QE identity / CRLs,
// AMD KDS certificates / CRLs) the first time it is fetched and replays it
// afterwards, so a machine that was online once can verify offline.
type CollateralDir struct {
	// Dir holds one JSON file per URL.
	Dir string
	// TDX and SNP fetch what is not recorded yet; nil means offline
	// (a missing entry is an error naming the URL).
	TDX tdxtrust.HTTPSGetter
	SNP sevtrust.HTTPSGetter
}

type recorded struct {
	URL    string              `json:"url"`
	Header map[string][]string `json:"header,omitempty"`
	Body   []byte              `json:"body"`
}

func (c *CollateralDir) path(url string) string {
	h := sha256.Sum256([]byte(url))
	return filepath.Join(c.Dir, hex.EncodeToString(h[:12])+".json")
}

func (c *CollateralDir) load(url string) (*recorded, error) {
	data, err := os.ReadFile(c.path(url))
	if err != nil {
		return nil, err
	}
	var r recorded
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("collateral %s: %v", c.path(url), err)
	}
	if r.URL != url {
		return nil, fmt.Errorf("collateral %s records %s, not %s", c.path(url), r.URL, url)
	}
	return &r, nil
}

func (c *CollateralDir) save(r recorded) error {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(c.path(r.URL), data, 0o644)
}

func (c *CollateralDir) missing(url string) error {
	return fmt.Errorf("collateral for %s is not recorded in %s and no network getter is configured (run once online with --collateral-dir to record it)", url, c.Dir)
}

// TDXGetter returns a go-tdx-guest getter that replays or records.
func (c *CollateralDir) TDXGetter() tdxtrust.HTTPSGetter { return tdxDirGetter{c} }

// SNPGetter returns a go-sev-guest getter that replays or records.
func (c *CollateralDir) SNPGetter() sevtrust.HTTPSGetter { return snpDirGetter{c} }

type tdxDirGetter struct{ c *CollateralDir }

func (g tdxDirGetter) Get(url string) (map[string][]string, []byte, error) {
	if r, err := g.c.load(url); err == nil {
		return r.Header, r.Body, nil
	} else if !os.IsNotExist(err) {
		return nil, nil, err
	}
	if g.c.TDX == nil {
		return nil, nil, g.c.missing(url)
	}
	h, b, err := g.c.TDX.Get(url)
	if err != nil {
		return nil, nil, err
	}
	return h, b, g.c.save(recorded{URL: url, Header: h, Body: b})
}

type snpDirGetter struct{ c *CollateralDir }

func (g snpDirGetter) Get(url string) ([]byte, error) {
	if r, err := g.c.load(url); err == nil {
		return r.Body, nil
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	if g.c.SNP == nil {
		return nil, g.c.missing(url)
	}
	b, err := g.c.SNP.Get(url)
	if err != nil {
		return nil, err
	}
	return b, g.c.save(recorded{URL: url, Body: b})
}
