package probe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cctest/cctest/attest/kbs"
	"github.com/cctest/cctest/probe/guestapi"
)

// GuestOptions are the inputs of the guest probe.
type GuestOptions struct {
	// URL of the guest API (default guestapi.DefaultURL, 127.0.0.1:8006).
	URL string
	// RuntimeData goes raw into REPORT_DATA (≤ 64 printable bytes): the
	// spec's nonce. Empty: no evidence is asked for.
	RuntimeData string
	// Resource is <repo>/<type>/<tag> to fetch through the data hub.
	Resource string
	// Env names an environment variable the spec sealed the same resource
	// into: the probe reports whether the process started with it unsealed.
	Env     string
	Node    string
	Timeout time.Duration
}

// Guest is the probe of a Confidential Containers guest, through the CoCo
// guest API the guest components serve inside the pod: evidence for the
// spec's runtime data (/aa/evidence), a resource through the Confidential
// Data Hub (/cdh/resource), and whether a sealed secret in the environment
// was unsealed before the process started. It reports digests of secrets,
// never the secrets, and never asks for the attestation token (its answer
// carries the TEE's private key).
func Guest(ctx context.Context, env *Env, o GuestOptions) Result {
	started := time.Now().UTC()
	r := Result{Probe: "guest", Node: o.Node, Started: started.Format(time.RFC3339Nano)}
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	tr := &http.Transport{DialContext: env.dial, DisableKeepAlives: true}
	c := guestapi.New(o.URL, &http.Client{Transport: tr})
	var problems []string
	if o.Env != "" {
		v := env.getenv(o.Env)
		r.Env = o.Env
		switch {
		case v == "":
			problems = append(problems, fmt.Sprintf("env %s is empty", o.Env))
		case strings.HasPrefix(v, kbs.SealedPrefix):
			r.EnvSealed = true
			problems = append(problems, fmt.Sprintf("env %s still holds the sealed secret: the process started without it being unsealed", o.Env))
		default:
			r.EnvSHA256 = digest([]byte(v))
		}
	}
	if o.Resource != "" {
		p := strings.Split(o.Resource, "/")
		if len(p) != 3 {
			return Result{Probe: "guest", Node: o.Node, Reason: fmt.Sprintf("usage: --resource %q: want <repository>/<type>/<tag>", o.Resource)}
		}
		r.Resource = kbs.ResourceURI(p[0], p[1], p[2])
		b, err := c.Resource(ctx, p[0], p[1], p[2])
		if err != nil {
			problems = append(problems, fmt.Sprintf("resource %s: %v", r.Resource, err))
		} else {
			r.ResourceSHA256 = digest(b)
		}
	}
	if r.EnvSHA256 != "" && r.ResourceSHA256 != "" && r.EnvSHA256 != r.ResourceSHA256 {
		problems = append(problems, fmt.Sprintf("env %s is not the resource %s", o.Env, r.Resource))
	}
	if o.RuntimeData != "" {
		r.Nonce = o.RuntimeData
		if err := guestEvidence(ctx, c, o.RuntimeData, &r); err != nil {
			problems = append(problems, err.Error())
		}
	}
	r.Pass = len(problems) == 0
	r.Reason = "guest API answered"
	if !r.Pass {
		r.Reason = strings.Join(problems, "; ")
	}
	return r
}

// guestEvidence asks /aa/evidence for evidence over the runtime data and
// records it in the result in the probe's evidence encoding.
func guestEvidence(ctx context.Context, c *guestapi.Client, data string, r *Result) error {
	info, err := c.Info(ctx)
	if err != nil {
		return err
	}
	raw, err := c.Evidence(ctx, data)
	if err != nil {
		return err
	}
	ev, err := kbs.EvidenceFromPrimary(info.TEE, raw)
	if err != nil {
		return fmt.Errorf("guest API /aa/evidence: %w", err)
	}
	r.TEE, r.Device = ev.TEE, "guest API "+info.Version
	enc, err := EncodeEvidence(ev)
	if err != nil {
		return err
	}
	r.Evidence = enc
	return nil
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
