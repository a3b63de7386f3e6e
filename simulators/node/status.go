package node

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// podPhase follows the kubelet's getPhase (with per-container restart
// policies, on by default since 1.35).
func (f *Fleet) podPhase(pod *corev1.Pod, st *podState) corev1.PodPhase {
	if st.terminal {
		return st.phase
	}
	if !st.sandboxReady || st.attesting {
		return corev1.PodPending
	}
	pendingInit, failedInitFinal, pendingSidecars := 0, 0, 0
	running, waiting, stopped, stoppedFinal, succeeded := 0, 0, 0, 0, 0
	for _, c := range st.init {
		if c.sidecar {
			switch {
			case c.phase == ctrRunning:
				running++
			case c.phase == ctrWaiting && c.term == nil:
				pendingSidecars++
				waiting++
			}
			continue
		}
		switch c.phase {
		case ctrRunning:
			pendingInit++
		case ctrExited:
			if c.term.ExitCode != 0 && !f.shouldRestart(pod, c) {
				failedInitFinal++
			}
		case ctrWaiting:
			if c.term == nil {
				pendingInit++
			}
		}
	}
	for _, c := range st.app {
		switch c.phase {
		case ctrRunning:
			running++
		case ctrExited:
			stopped++
			if !f.shouldRestart(pod, c) {
				stoppedFinal++
			}
			if c.term.ExitCode == 0 {
				succeeded++
			}
		case ctrWaiting:
			if c.term != nil {
				stopped++
			} else {
				waiting++
			}
		}
	}
	switch {
	case failedInitFinal > 0:
		return corev1.PodFailed
	case pendingInit > 0 || (pendingSidecars > 0 && !st.initialized) || waiting > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case stopped > 0:
		if stopped != stoppedFinal {
			return corev1.PodRunning
		}
		if stopped == succeeded {
			return corev1.PodSucceeded
		}
		return corev1.PodFailed
	}
	return corev1.PodPending
}

func sec(t time.Time) metav1.Time { return metav1.NewTime(t.Truncate(time.Second)) }

// containerStatus renders one container as the kubelet reports it.
func (c *ctr) status(defaultWaiting string) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{Name: c.spec.Name, Image: c.spec.Image, RestartCount: c.attempt, Started: ptrTo(false)}
	switch c.phase {
	case ctrWaiting:
		reason, msg := c.waitReason, c.waitMsg
		if reason == "" {
			reason = defaultWaiting
		}
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: msg}
		if c.term != nil {
			cs.LastTerminationState.Terminated = c.term.DeepCopy()
		} else if c.last != nil {
			cs.LastTerminationState.Terminated = c.last.DeepCopy()
		}
		if c.id != "" {
			cs.Image, cs.ImageID = imageRef(c.spec.Image), imageID(c.spec.Image)
		}
		return cs
	case ctrRunning:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: sec(c.started)}
		cs.Ready = !c.init || c.sidecar
		cs.Started = ptrTo(true)
	case ctrExited:
		cs.State.Terminated = c.term.DeepCopy()
		cs.Ready = c.init && !c.sidecar && c.term.ExitCode == 0
	}
	if c.last != nil {
		cs.LastTerminationState.Terminated = c.last.DeepCopy()
	}
	cs.Image, cs.ImageID, cs.ContainerID = imageRef(c.spec.Image), imageID(c.spec.Image), c.id
	return cs
}

func imageRef(image string) string {
	ref, _ := normalizeImage(image)
	return ref
}

// render computes the status the kubelet would write now. Fields the
// kubelet does not own (qosClass, other controllers' conditions, resize)
// are kept.
func (f *Fleet) render(pod *corev1.Pod, st *podState, now time.Time) corev1.PodStatus {
	s := *pod.Status.DeepCopy()
	phase := f.podPhase(pod, st)
	if phase != s.Phase {
		s.Reason, s.Message = "", ""
	}
	s.Phase = phase
	if st.reason != "" {
		s.Reason, s.Message = st.reason, st.message
	}
	s.ObservedGeneration = pod.Generation
	s.HostIP = st.node.info.Address
	s.HostIPs = []corev1.HostIP{{IP: s.HostIP}}
	if st.podIP != "" {
		s.PodIP = st.podIP
		s.PodIPs = []corev1.PodIP{{IP: st.podIP}}
	}
	if s.StartTime == nil {
		t := sec(st.startTime)
		s.StartTime = &t
	}

	defaultWaiting := reasonContainerCreating
	if len(pod.Spec.InitContainers) > 0 {
		defaultWaiting = reasonPodInitializing
	}
	s.InitContainerStatuses = nil
	for _, c := range st.init {
		s.InitContainerStatuses = append(s.InitContainerStatuses, c.status(defaultWaiting))
	}
	s.ContainerStatuses = nil
	for _, c := range st.app {
		s.ContainerStatuses = append(s.ContainerStatuses, c.status(defaultWaiting))
	}
	sort.Slice(s.ContainerStatuses, func(i, j int) bool { return s.ContainerStatuses[i].Name < s.ContainerStatuses[j].Name })

	base := pod.Status
	if st.lastSent != nil {
		base = *st.lastSent
	}
	s.Conditions = f.conditions(pod, st, &s, base, now)
	return s
}

// conditions replaces the kubelet-owned pod conditions and keeps the rest.
func (f *Fleet) conditions(pod *corev1.Pod, st *podState, s *corev1.PodStatus, base corev1.PodStatus, now time.Time) []corev1.PodCondition {
	gen := pod.Generation
	mk := func(t corev1.PodConditionType, ok bool, reason, msg string) corev1.PodCondition {
		status := corev1.ConditionFalse
		if ok {
			status = corev1.ConditionTrue
		}
		c := corev1.PodCondition{Type: t, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen, LastTransitionTime: sec(now)}
		for _, old := range base.Conditions {
			if old.Type == t && old.Status == status {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
		return c
	}
	terminal := s.Phase == corev1.PodSucceeded || s.Phase == corev1.PodFailed

	sandbox := mk(corev1.PodReadyToStartContainers, st.sandboxReady && !terminal, "", "")
	if sandbox.Status != corev1.ConditionTrue {
		sandbox.Reason = "PodSandboxNotReady"
	}

	var incomplete []string
	for i, c := range st.init {
		cs := s.InitContainerStatuses[i]
		if (c.sidecar && (cs.Started == nil || !*cs.Started)) || (!c.sidecar && !c.completed()) {
			incomplete = append(incomplete, c.spec.Name)
		}
	}
	anyStarted := false
	for _, c := range st.app {
		if c.id != "" {
			anyStarted = true
		}
	}
	var initialized corev1.PodCondition
	switch {
	case s.Phase == corev1.PodSucceeded:
		initialized = mk(corev1.PodInitialized, true, "PodCompleted", "")
	case anyStarted || len(incomplete) == 0:
		initialized = mk(corev1.PodInitialized, true, "", "")
	default:
		initialized = mk(corev1.PodInitialized, false, "ContainersNotInitialized", fmt.Sprintf("containers with incomplete status: %s", incomplete))
	}

	var unready []string
	for i, c := range st.init {
		if c.sidecar && !s.InitContainerStatuses[i].Ready {
			unready = append(unready, c.spec.Name)
		}
	}
	for _, c := range st.app {
		if c.phase != ctrRunning {
			unready = append(unready, c.spec.Name)
		}
	}
	var containersReady corev1.PodCondition
	switch {
	case s.Phase == corev1.PodSucceeded:
		containersReady = mk(corev1.ContainersReady, false, "PodCompleted", "")
	case s.Phase == corev1.PodFailed:
		containersReady = mk(corev1.ContainersReady, false, "PodFailed", "")
	case len(unready) > 0:
		containersReady = mk(corev1.ContainersReady, false, "ContainersNotReady", fmt.Sprintf("containers with unready status: %s", unready))
	default:
		containersReady = mk(corev1.ContainersReady, true, "", "")
	}
	ready := mk(corev1.PodReady, containersReady.Status == corev1.ConditionTrue, containersReady.Reason, containersReady.Message)
	if ready.Status == corev1.ConditionTrue {
		var gates []string
		for _, g := range pod.Spec.ReadinessGates {
			found := false
			for _, c := range s.Conditions {
				if c.Type == g.ConditionType {
					found = true
					if c.Status != corev1.ConditionTrue {
						gates = append(gates, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", g.ConditionType, c.Status))
					}
				}
			}
			if !found {
				gates = append(gates, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", g.ConditionType))
			}
		}
		if len(gates) > 0 {
			ready = mk(corev1.PodReady, false, "ReadinessGatesNotReady", joinComma(gates))
		}
	}
	scheduled := mk(corev1.PodScheduled, true, "", "")

	out := []corev1.PodCondition{}
	for _, c := range s.Conditions {
		switch c.Type {
		case corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady, corev1.PodScheduled:
		default:
			out = append(out, c)
		}
	}
	return append(out, sandbox, initialized, ready, containersReady, scheduled)
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}

// writeStatus patches pod status with the node's identity when it changed
// (strategic merge patch with the pod UID as precondition, as the kubelet's
// status manager does).
func (f *Fleet) writeStatus(ctx context.Context, pod *corev1.Pod, st *podState, now time.Time) error {
	desired := f.render(pod, st, now)
	if equality.Semantic.DeepEqual(desired, pod.Status) {
		st.lastSent = nil // the informer has caught up: no need to keep a copy
		return nil
	}
	if st.lastSent != nil && pod.ResourceVersion == st.lastBaseRV && equality.Semantic.DeepEqual(desired, *st.lastSent) {
		return nil // our last write has not reached the informer yet
	}
	patch, err := statusPatch(pod.UID, pod.Status, desired)
	if err != nil {
		return err
	}
	_, err = st.node.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // deleted, or a new pod with the same name: the informer will tell
	}
	if err != nil {
		return fmt.Errorf("patch status of pod %s: %w", st.key, err)
	}
	st.lastSent, st.lastBaseRV = &desired, pod.ResourceVersion
	return nil
}

func statusPatch(uid types.UID, old, new corev1.PodStatus) ([]byte, error) {
	oldData, err := json.Marshal(corev1.Pod{Status: old})
	if err != nil {
		return nil, err
	}
	newData, err := json.Marshal(corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: uid}, Status: new})
	if err != nil {
		return nil, err
	}
	return strategicpatch.CreateTwoWayMergePatch(oldData, newData, corev1.Pod{})
}
