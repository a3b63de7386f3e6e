// Package hostcheck is the preflight of a bare-metal host for the pod-level
// (Kata / CoCo) path: such a host is not a TEE guest and has no evidence of
// its own, so what can be checked is that it can run confidential guests —
// the kernel's TDX / SEV-SNP host support, the TDX quote path (QGS and
// PCCS) and the Kata runtime handlers. These say the host CAN run guests;
// they are never evidence. Everything is read under Root, so tests use a
// fake tree.
package hostcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cctest/cctest/api/teename"
)

// Paths of a real host, relative to Root.
const (
	TDXParam    = "sys/module/kvm_intel/parameters/tdx"           // Y: the TDX module is initialised
	SNPParam    = "sys/module/kvm_amd/parameters/sev_snp"         // Y: SEV-SNP host support is on
	QGSSocket   = "var/run/tdx-qgs/qgs.socket"                    // the TDX Quote Generation Service
	QCNLConfig  = "etc/sgx_default_qcnl.conf"                     // the quote library's PCCS address
	Containerd  = "etc/containerd/config.toml"                    // runtime handlers
	KataDeploy  = "opt/kata/containerd/config.d/kata-deploy.toml" // what kata-deploy imports
	NFDFeatures = "etc/kubernetes/node-feature-discovery/features.d/cctest"
)

// QuotePathFeature is the NFD local feature (label
// feature.node.kubernetes.io/cctest-tdx-quote-path) written when the TDX
// quote path answered.
const QuotePathFeature = "cctest-tdx-quote-path"

// Options of a check.
type Options struct {
	Root string // "" = "/"
	// TEE is tdx or sev-snp; "" checks every TEE whose host parameter exists.
	TEE     string
	Timeout time.Duration // per connection; 0 = 3 s
}

// Check is one checked capability.
type Check struct {
	TEE    string `json:"tee"`
	Name   string `json:"name"`
	Pass   bool   `json:"pass"`
	Detail string `json:"detail"`
}

// Report is every check of one host.
type Report struct {
	Root   string  `json:"root"`
	Checks []Check `json:"checks"`
	Pass   bool    `json:"pass"`
}

// QuotePath reports whether the TDX quote path checks passed.
func (r Report) QuotePath() bool {
	n := 0
	for _, c := range r.Checks {
		if c.TEE == teename.TDX && (c.Name == "quote generation service" || c.Name == "PCCS") {
			if !c.Pass {
				return false
			}
			n++
		}
	}
	return n == 2
}

// Run checks the host.
func Run(ctx context.Context, o Options) Report {
	if o.Root == "" {
		o.Root = "/"
	}
	if o.Timeout == 0 {
		o.Timeout = 3 * time.Second
	}
	r := Report{Root: o.Root}
	add := func(tee, name string, pass bool, format string, args ...any) {
		r.Checks = append(r.Checks, Check{TEE: tee, Name: name, Pass: pass, Detail: fmt.Sprintf(format, args...)})
	}
	tees := []string{o.TEE}
	if o.TEE == "" {
		tees = nil
		for tee, p := range map[string]string{teename.TDX: TDXParam, teename.SNP: SNPParam} {
			if _, err := os.Stat(filepath.Join(o.Root, p)); err == nil {
				tees = append(tees, tee)
			}
		}
		if len(tees) == 0 {
			add("", "TEE host support", false, "neither %s nor %s exists: this kernel has no TDX or SEV-SNP host support (kvm_intel / kvm_amd not loaded, or too old)", "/"+TDXParam, "/"+SNPParam)
		}
		if len(tees) == 2 && tees[0] != teename.TDX {
			tees[0], tees[1] = tees[1], tees[0]
		}
	}
	for _, tee := range tees {
		switch tee {
		case teename.TDX:
			param(o.Root, TDXParam, func(pass bool, d string) { add(tee, "TDX host support", pass, "%s", d) })
			qgs(ctx, o, func(pass bool, d string) { add(tee, "quote generation service", pass, "%s", d) })
			pccs(ctx, o, func(pass bool, d string) { add(tee, "PCCS", pass, "%s", d) })
			handler(o.Root, "kata-qemu-tdx", func(pass bool, d string) { add(tee, "Kata handler", pass, "%s", d) })
		case teename.SNP:
			param(o.Root, SNPParam, func(pass bool, d string) { add(tee, "SEV-SNP host support", pass, "%s", d) })
			handler(o.Root, "kata-qemu-snp", func(pass bool, d string) { add(tee, "Kata handler", pass, "%s", d) })
		default:
			add(tee, "TEE", false, "unknown TEE %q (want tdx or sev-snp)", tee)
		}
	}
	r.Pass = len(r.Checks) > 0
	for _, c := range r.Checks {
		r.Pass = r.Pass && c.Pass
	}
	return r
}

func param(root, rel string, done func(bool, string)) {
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		done(false, fmt.Sprintf("/%s: %v", rel, errText(err)))
		return
	}
	v := strings.TrimSpace(string(b))
	done(v == "Y" || v == "1", fmt.Sprintf("/%s is %q (want Y)", rel, v))
}

func qgs(ctx context.Context, o Options, done func(bool, string)) {
	p := filepath.Join(o.Root, QGSSocket)
	d := net.Dialer{Timeout: o.Timeout}
	c, err := d.DialContext(ctx, "unix", p)
	if err != nil {
		done(false, fmt.Sprintf("/%s does not answer: %v (is the QGS running?)", QGSSocket, errText(err)))
		return
	}
	c.Close()
	done(true, "/"+QGSSocket+" accepts connections")
}

func pccs(ctx context.Context, o Options, done func(bool, string)) {
	b, err := os.ReadFile(filepath.Join(o.Root, QCNLConfig))
	if err != nil {
		done(false, fmt.Sprintf("/%s: %v (the quote library does not know its PCCS)", QCNLConfig, errText(err)))
		return
	}
	var conf struct {
		PCCSURL string `json:"pccs_url"`
	}
	if err := json.Unmarshal(b, &conf); err != nil || conf.PCCSURL == "" {
		done(false, fmt.Sprintf("/%s names no pccs_url", QCNLConfig))
		return
	}
	u, err := url.Parse(conf.PCCSURL)
	if err != nil || u.Host == "" {
		done(false, fmt.Sprintf("/%s: pccs_url %q is not a URL", QCNLConfig, conf.PCCSURL))
		return
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	d := net.Dialer{Timeout: o.Timeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		done(false, fmt.Sprintf("PCCS %s not reachable: %v", conf.PCCSURL, err))
		return
	}
	c.Close()
	done(true, "PCCS "+conf.PCCSURL+" accepts connections")
}

// handler looks for the runtime in containerd's configuration (its own
// file, or the one kata-deploy drops in and imports).
func handler(root, name string, done func(bool, string)) {
	for _, rel := range []string{Containerd, KataDeploy} {
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			continue
		}
		s := string(b)
		if strings.Contains(s, "runtimes."+name+"]") || strings.Contains(s, `runtimes."`+name+`"]`) {
			done(true, fmt.Sprintf("runtime %s configured in /%s", name, rel))
			return
		}
	}
	done(false, fmt.Sprintf("no containerd runtime %s in /%s or /%s (is kata-deploy installed?)", name, Containerd, KataDeploy))
}

func errText(err error) string {
	if os.IsNotExist(err) {
		return "does not exist"
	}
	return err.Error()
}

// NFDFeatureFile is what to write to NFD's features.d for this report: the
// quote-path feature when it answered, nothing otherwise (NFD then removes
// the label).
func (r Report) NFDFeatureFile() []byte {
	if r.QuotePath() {
		return []byte(QuotePathFeature + "=true\n")
	}
	return nil
}
