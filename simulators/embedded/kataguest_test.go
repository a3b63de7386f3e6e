package embedded

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/internal/testpolicy"
	"github.com/cctest/cctest/simulators/node"
	"github.com/cctest/cctest/simulators/tee"
)

func kataPod(uid, cpu string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: uid, Namespace: "app", UID: types.UID("uid-" + uid)},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}}
	if cpu != "" {
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("512Mi")}
	}
	return p
}

// TestKataGuestsAreTheirOwnTEE: each Kata pod gets its own guest: the guest
// image's measurement for its size (allowed by the platform policy), its
// own REPORT_DATA, its host's PPID; none of it is the host's evidence.
func TestKataGuestsAreTheirOwnTEE(t *testing.T) {
	a := fakeParts()
	pol := testpolicy.Load(t, "platform.yaml")
	v := verifier.New(verifier.Options{TestRoots: tee.TestRoots()})
	n := node.NodeInfo{Name: "tdx-1", TEE: "tdx"}
	verify := func(d interface {
		Evidence([64]byte) (verifier.Evidence, error)
	}, ctx string) verifier.Verdict {
		rd := verifier.BindReportData([]byte("nonce"), ctx)
		ev, err := d.Evidence(rd)
		if err != nil {
			t.Fatal(err)
		}
		return v.Verify(ev, pol, rd[:])
	}
	small, _ := a.guestDevice(n, kataPod("small", ""))
	big, _ := a.guestDevice(n, kataPod("big", "2"))
	vs, vb := verify(small, "pod:small"), verify(big, "pod:big")
	for _, vd := range []verifier.Verdict{vs, vb} {
		if !vd.Pass {
			t.Fatalf("guest evidence refused: %s", vd.Reason)
		}
	}
	if vs.MatchedImage != "kata-cc-guest-3.20-1vcpu-2048mib" || vb.MatchedImage != "kata-cc-guest-3.20-3vcpu-2560mib" {
		t.Errorf("matched %q and %q", vs.MatchedImage, vb.MatchedImage)
	}
	host := verify(a.nodeDevice("tdx-1"), "host")
	if vs.PPID == "" || vs.PPID != vb.PPID || vs.PPID != host.PPID {
		t.Errorf("PPIDs: guests %q %q, host %q", vs.PPID, vb.PPID, host.PPID)
	}
	if vs.Measurement == host.Measurement || vs.ReportData == vb.ReportData {
		t.Error("a guest reports the host's measurement, or two guests one REPORT_DATA")
	}
	a.faults = faults.Set{FaultKataGuestsShareEvidence: true}
	shared, _ := a.guestDevice(n, kataPod("other", ""))
	if got := verify(shared, "pod:other"); got.Measurement != host.Measurement {
		t.Error("kata-guests-share-evidence: the guest does not use the host's device")
	}
}

func TestKataGuestSize(t *testing.T) {
	if s := KataGuestSize(kataPod("p", "1500m")); s.VCPUs != 3 || s.MemoryMiB != 2560 {
		t.Errorf("size %v", s)
	}
	if s := KataGuestSize(kataPod("p", "")); s.VCPUs != 1 || s.MemoryMiB != 2048 {
		t.Errorf("size %v", s)
	}
}

// TestNoGuestWithoutHostSupport: a host whose TDX is off starts no TD.
func TestNoGuestWithoutHostSupport(t *testing.T) {
	a := fakeParts()
	a.machines.get("tdx-1").Capability.TDX = false
	if _, err := a.guestDevice(node.NodeInfo{Name: "tdx-1", TEE: "tdx"}, kataPod("p", "")); err == nil || !strings.Contains(err.Error(), "host support is not enabled") {
		t.Errorf("err = %v", err)
	}
}
