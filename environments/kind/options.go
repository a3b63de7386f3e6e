// Package kind is the kind environment of `cctest run --env kind`: a host
// cluster made with the sigs.k8s.io/kind library (one control plane, N
// workers, some labelled as simulated TEE nodes), vCluster installed from
// its Helm chart in the shared-nodes shape, the host RuntimeClasses with
// handler runc so pods really run on kind, and the probe image loaded into
// every node. The suites then talk to the tenant and host APIs as they
// would on any cluster.
//
// What this environment cannot be: a TEE. The workers carry the TEE labels
// but no TEE device, the Kata classes run plain runc containers, and
// private / auto nodes need the vCluster Platform, so the tenant uses
// shared nodes with RuntimeClass sync. Specs that need evidence from a TEE
// or NodeClaims fail or skip here; that is what the embedded platform and
// real hardware are for.
//
// Create runs one action per step, each with a progress line, behind two
// small interfaces at the boundary to things this process does not own:
// Engine (kind and its container engine) and Helm (the helm CLI). Tests run
// the step list against fakes of those two only; everything else talks to
// a real Kubernetes API.
package kind

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cctest/cctest/api/teename"

	"github.com/cctest/cctest/fixtures"
)

// Pinned versions and defaults.
const (
	// ChartVersion is the vCluster chart version installed (the vCluster
	// release whose behaviour docs/vcluster-facts.md records).
	ChartVersion = "0.36.1"
	ChartRepo    = "https://charts.loft.sh"
	ChartName    = "vcluster"

	DefaultName    = "cctest"
	DefaultRelease = "tenant"
	// DefaultVCluster is the fixture the chart values come from.
	DefaultVCluster = "reference/vcluster-shared-nodes.yaml"
	// DefaultHostClasses are the RuntimeClasses created in the host (their
	// handlers rewritten to runc).
	DefaultHostClasses = "reference/host-runtimeclasses.yaml"

	// TenantNodePort is the NodePort of the vCluster API service; the
	// control-plane node container maps it to 127.0.0.1:TenantPort.
	TenantNodePort    = 31443
	DefaultTenantPort = 31443

	DefaultWaitTimeout = 5 * time.Minute
	maxWorkers         = 20
)

// Labels on simulated TEE workers. LabelConfidential is the key node types
// and workloads use (confidential-compute=tdx / sev-snp); LabelSimulated
// says there is no TEE behind it.
const (
	LabelConfidential = "confidential-compute"
	LabelSimulated    = "cctest.dev/simulated-tee"
	// AnnotationRealHandler on a host RuntimeClass keeps the handler the
	// class has on real nodes (here it is runc).
	AnnotationRealHandler = "cctest.dev/real-handler"
	// RuncHandler is the handler kind nodes have.
	RuncHandler = "runc"
)

// Options configure the kind environment. Zero values take the defaults.
type Options struct {
	Name    string   // kind cluster name (default "cctest")
	Workers int      // number of workers (default len(TEE))
	TEE     []string // per worker: "tdx", "sev-snp" (or "snp"), "" for a plain worker; default tdx, sev-snp
	// NodeImage is the kind node image (default: kind's own for v0.33.0).
	NodeImage string

	ChartVersion string // default ChartVersion
	ChartRepo    string // default ChartRepo
	Release      string // Helm release and vCluster name (default "tenant"), in namespace vcluster-<Release>
	// VClusterYAML is the tenant's vcluster.yaml in the shared-nodes shape
	// (default fixtures/reference/vcluster-shared-nodes.yaml); VClusterFile
	// names it in errors.
	VClusterYAML []byte
	VClusterFile string
	// TenantPort is the 127.0.0.1 port the tenant API is reached on.
	TenantPort int

	// ProbeImageTar is the probe image tarball (probe/image.Build); Create
	// loads it into every node.
	ProbeImageTar string
	// ProbeBinary is the cctest-probe binary the Provider builds the probe
	// image from when ProbeImageTar is empty (default: cctest-probe beside
	// the cctest binary, as `make build probe` leaves them).
	ProbeBinary string
	// Dir receives kind-config.yaml, vcluster-values.yaml and the
	// kubeconfigs (required by Create).
	Dir string
	// Keep leaves the cluster running after Close and after a failed Create.
	Keep bool
	// WaitTimeout bounds each wait for an API or an object (default 5m).
	WaitTimeout time.Duration
	// HelmBinary is the helm CLI used when Helm is nil (default "helm").
	HelmBinary string
	Log        io.Writer

	// Engine and Helm are the boundaries to kind's container engine and to
	// the helm CLI; nil means the real ones. Tests pass fakes.
	Engine Engine
	Helm   Helm
}

// Worker is one worker node of the generated config.
type Worker struct {
	Name string // the node name kind gives it
	TEE  string // "tdx", "sev-snp" or "" (plain)
}

// withDefaults returns o with defaults filled in and its fields checked.
func (o Options) withDefaults() (Options, error) {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.Release == "" {
		o.Release = DefaultRelease
	}
	if o.ChartVersion == "" {
		o.ChartVersion = ChartVersion
	}
	if o.ChartRepo == "" {
		o.ChartRepo = ChartRepo
	}
	if o.TenantPort == 0 {
		o.TenantPort = DefaultTenantPort
	}
	if o.WaitTimeout == 0 {
		o.WaitTimeout = DefaultWaitTimeout
	}
	if o.HelmBinary == "" {
		o.HelmBinary = "helm"
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.VClusterYAML == nil {
		b, err := fixtures.Read(DefaultVCluster)
		if err != nil {
			return o, err
		}
		o.VClusterYAML, o.VClusterFile = b, "fixtures/"+DefaultVCluster
	}
	if o.VClusterFile == "" {
		o.VClusterFile = "vcluster.yaml"
	}
	if o.TenantPort < 1 || o.TenantPort > 65535 {
		return o, fmt.Errorf("kind: tenant port %d is not a TCP port", o.TenantPort)
	}
	if o.Workers < 0 || o.Workers > maxWorkers {
		return o, fmt.Errorf("kind: %d workers: want 1 to %d", o.Workers, maxWorkers)
	}
	if o.TEE == nil {
		o.TEE = []string{teename.TDX, teename.SNP}
		if o.Workers > 0 && o.Workers < len(o.TEE) {
			o.TEE = o.TEE[:o.Workers]
		}
	}
	tees := make([]string, len(o.TEE))
	for i, t := range o.TEE {
		n, err := normalizeTEE(t)
		if err != nil {
			return o, fmt.Errorf("kind: TEE of worker %d: %w", i+1, err)
		}
		tees[i] = n
	}
	o.TEE = tees
	if o.Workers == 0 {
		o.Workers = len(o.TEE)
	}
	if o.Workers == 0 {
		return o, fmt.Errorf("kind: no workers: want 1 to %d", maxWorkers)
	}
	if o.Workers < len(o.TEE) {
		return o, fmt.Errorf("kind: %d workers but %d TEE entries (one per worker)", o.Workers, len(o.TEE))
	}
	for len(o.TEE) < o.Workers {
		o.TEE = append(o.TEE, "")
	}
	return o, nil
}

func normalizeTEE(t string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(t)) {
	case teename.TDX:
		return teename.TDX, nil
	case teename.SNP, "snp", "sevsnp":
		return teename.SNP, nil
	case "", "none", "plain":
		return "", nil
	}
	return "", fmt.Errorf("unknown TEE %q (want tdx, sev-snp or none)", t)
}

// workers names the workers as kind does: <name>-worker, <name>-worker2, …
func (o Options) workers() []Worker {
	ws := make([]Worker, o.Workers)
	for i := range ws {
		n := o.Name + "-worker"
		if i > 0 {
			n += fmt.Sprint(i + 1)
		}
		ws[i] = Worker{Name: n, TEE: o.TEE[i]}
	}
	return ws
}

func (o Options) namespace() string { return "vcluster-" + o.Release }

// secretName is where vCluster exports the tenant kubeconfig in the host.
func (o Options) secretName() string { return "vc-" + o.Release }
