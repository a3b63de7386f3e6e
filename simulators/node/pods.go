package node

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Kubelet reasons used in pod status and events.
const (
	ReasonFailedCreatePodSandBox = "FailedCreatePodSandBox"
	reasonCreateContainerError   = "CreateContainerError"
	reasonContainerCreating      = "ContainerCreating"
	reasonPodInitializing        = "PodInitializing"
	reasonCrashLoopBackOff       = "CrashLoopBackOff"
)

// podState is the simulated runtime's memory of one pod: its sandbox and
// containers. Only one pod worker handles a pod at a time (work queue);
// async results (attestation, probes) are delivered under mu.
type podState struct {
	mu        sync.Mutex
	uid       types.UID
	key       string
	node      *simNode
	startTime time.Time

	sandboxReady  bool
	nextSandbox   time.Time
	handler       string
	podIP         string
	attesting     bool
	attestResult  *AttestResult
	attestStarted bool
	nextAttest    time.Time

	terminal        bool
	phase           corev1.PodPhase
	reason, message string
	released        bool

	init        []*ctr
	app         []*ctr
	initialized bool

	lastSent   *corev1.PodStatus
	lastBaseRV string
}

type ctrPhase int

const (
	ctrWaiting ctrPhase = iota
	ctrRunning
	ctrExited
)

// ctr is one container slot; restarts create new instances in the slot.
type ctr struct {
	spec          corev1.Container
	fieldPath     string
	init, sidecar bool
	beh           behaviour

	phase               ctrPhase
	waitReason, waitMsg string
	id                  string
	started             time.Time
	attempt             int32                            // restartCount
	term                *corev1.ContainerStateTerminated // the current instance's end
	last                *corev1.ContainerStateTerminated // the previous instance's end
	restartAt           time.Time
	nextCreate          time.Time

	probeRunning bool
	probeDone    bool
	probeCode    int32
	probeMsg     string
}

func (f *Fleet) stateFor(key string, pod *corev1.Pod, n *simNode) *podState {
	f.statesM.Lock()
	defer f.statesM.Unlock()
	st := f.states[key]
	if st != nil && st.uid == pod.UID && st.node == n {
		return st
	}
	if st != nil {
		f.release(st)
		f.events.forget(st.uid)
	}
	st = &podState{uid: pod.UID, key: key, node: n, startTime: time.Now()}
	for _, c := range pod.Spec.InitContainers {
		sidecar := c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		st.init = append(st.init, &ctr{spec: c, init: true, sidecar: sidecar,
			fieldPath: "spec.initContainers{" + c.Name + "}", beh: f.behaviourOf(pod, c, true, sidecar)})
	}
	for _, c := range pod.Spec.Containers {
		st.app = append(st.app, &ctr{spec: c, fieldPath: "spec.containers{" + c.Name + "}", beh: f.behaviourOf(pod, c, false, false)})
	}
	f.adopt(pod, st)
	f.states[key] = st
	return st
}

// adopt takes over a pod that an earlier kubelet on this node started:
// containerd kept its sandbox and containers across the kubelet restart,
// so they keep their IDs, start times and restart counts.
func (f *Fleet) adopt(pod *corev1.Pod, st *podState) {
	if pod.Status.PodIP == "" || (pod.Status.Phase != corev1.PodRunning && pod.Status.Phase != corev1.PodPending) {
		return
	}
	seen := map[string]corev1.ContainerStatus{}
	for _, cs := range append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		if cs.ContainerID != "" || cs.LastTerminationState.Terminated != nil {
			seen[cs.Name] = cs
		}
	}
	if len(seen) == 0 {
		return
	}
	st.sandboxReady, st.podIP = true, pod.Status.PodIP
	st.node.reserveIP(st.podIP)
	if pod.Status.StartTime != nil {
		st.startTime = pod.Status.StartTime.Time
	}
	st.handler = HandlerRunc
	if name := pod.Spec.RuntimeClassName; name != nil && *name != "" {
		if rc, err := f.rcLister.Get(*name); err == nil {
			st.handler = rc.Handler
		}
	}
	st.node.mu.Lock()
	st.node.inUse[pod.UID] = podUse{handler: st.handler, key: st.key}
	st.node.mu.Unlock()
	for _, c := range append(append([]*ctr{}, st.init...), st.app...) {
		cs, ok := seen[c.spec.Name]
		if !ok {
			continue
		}
		c.attempt, c.id = cs.RestartCount, cs.ContainerID
		c.last = cs.LastTerminationState.Terminated.DeepCopy()
		switch {
		case cs.State.Running != nil:
			c.phase, c.started = ctrRunning, cs.State.Running.StartedAt.Time
		case cs.State.Terminated != nil:
			c.phase, c.term, c.started = ctrExited, cs.State.Terminated.DeepCopy(), cs.State.Terminated.StartedAt.Time
		case c.last != nil: // waiting to restart
			c.phase, c.term, c.last = ctrWaiting, c.last, nil
		}
		if !c.init && c.id != "" {
			st.initialized = true
		}
	}
}

func (f *Fleet) dropState(key string) {
	f.statesM.Lock()
	st := f.states[key]
	delete(f.states, key)
	f.statesM.Unlock()
	if st != nil {
		st.mu.Lock()
		f.release(st)
		st.mu.Unlock()
		f.events.forget(st.uid)
	}
}

// release tears the sandbox down: the pod IP and the runtime slot are free.
func (f *Fleet) release(st *podState) {
	if st.released {
		return
	}
	st.released = true
	if st.podIP != "" {
		st.node.freeIP(st.podIP)
	}
	st.node.mu.Lock()
	delete(st.node.inUse, st.uid)
	st.node.mu.Unlock()
}

// syncPod is one kubelet sync of one pod. It returns when to look again.
func (f *Fleet) syncPod(ctx context.Context, key string) (time.Duration, error) {
	obj, exists, err := f.pods.GetIndexer().GetByKey(key)
	if err != nil {
		return 0, err
	}
	if !exists {
		f.dropState(key)
		return 0, nil
	}
	pod := obj.(*corev1.Pod)
	n := f.node(pod.Spec.NodeName)
	if n == nil || n.isGone() {
		f.dropState(key)
		return 0, nil
	}
	st := f.stateFor(key, pod, n)
	st.mu.Lock()
	defer st.mu.Unlock()

	if pod.DeletionTimestamp != nil {
		return 0, f.killPod(ctx, pod, st)
	}
	if !st.terminal && (pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed) {
		// Finished before this kubelet started, or failed by someone else
		// (e.g. an eviction): pods never leave a terminal phase.
		st.terminal, st.phase = true, pod.Status.Phase
		f.release(st)
		return 0, nil
	}
	now := time.Now()
	var w waker
	f.step(ctx, pod, st, now, &w)
	if err := f.writeStatus(ctx, pod, st, now); err != nil {
		return 0, err
	}
	return w.after(now), nil
}

// waker collects the earliest time something is due.
type waker struct{ t time.Time }

func (w *waker) at(t time.Time) {
	if w.t.IsZero() || t.Before(w.t) {
		w.t = t
	}
}

func (w *waker) after(now time.Time) time.Duration {
	if w.t.IsZero() {
		return 0
	}
	if d := w.t.Sub(now); d > 0 {
		return d + 10*time.Millisecond
	}
	return 10 * time.Millisecond
}

func podRef(pod *corev1.Pod, fieldPath string) corev1.ObjectReference {
	return corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, FieldPath: fieldPath}
}

func (f *Fleet) event(st *podState, pod *corev1.Pod, fieldPath, typ, reason, msg string) {
	f.events.record(st.node.client, st.node.spec.Name, podRef(pod, fieldPath), typ, reason, msg)
}

func (f *Fleet) step(ctx context.Context, pod *corev1.Pod, st *podState, now time.Time, w *waker) {
	if st.terminal {
		return
	}
	n := st.node
	if !st.sandboxReady {
		if now.Before(st.nextSandbox) {
			w.at(st.nextSandbox)
			return
		}
		handler, err := f.resolveHandler(ctx, pod)
		msg := ""
		if err != nil {
			msg = err.Error()
		} else {
			msg = f.createSandbox(n, pod, st.key, handler)
		}
		if msg != "" {
			// kubelet's pod worker retries a failed sync after ~10 s.
			st.nextSandbox = now.Add(f.cfg.BackoffInitial)
			f.event(st, pod, "", corev1.EventTypeWarning, ReasonFailedCreatePodSandBox, "Failed to create pod sandbox: "+msg)
			w.at(st.nextSandbox)
			return
		}
		st.sandboxReady, st.handler = true, handler
		if pod.Spec.HostNetwork {
			st.podIP = n.info.Address
		} else {
			st.podIP = n.allocIP()
		}
		if f.isKataTEE(handler) && !f.cfg.Faults.Has(FaultPodAttestationSkipped) {
			st.attesting = true
		}
	}
	if st.attesting {
		if st.attestResult == nil {
			if !st.attestStarted {
				st.attestStarted = true
				f.startAttestation(pod, st)
			}
			return
		}
		r := *st.attestResult
		if !r.Passed {
			// The guest could not create the containers (a secret it must
			// unseal was refused): the kubelet reports CreateContainerError
			// on them and retries after a back-off, as for any failed create.
			if now.Before(st.nextAttest) {
				w.at(st.nextAttest)
				return
			}
			for _, c := range append(append([]*ctr{}, st.init...), st.app...) {
				c.waitReason, c.waitMsg = reasonCreateContainerError, r.Reason
			}
			fieldPath := ""
			if len(st.app) > 0 {
				fieldPath = st.app[0].fieldPath
			}
			f.event(st, pod, fieldPath, corev1.EventTypeWarning, "Failed", "Error: "+r.Reason)
			st.attestResult, st.attestStarted = nil, false
			st.nextAttest = now.Add(f.cfg.BackoffInitial)
			w.at(st.nextAttest)
			return
		}
		st.attesting = false
	}
	f.stepContainers(pod, st, now, w)
}

func (f *Fleet) startAttestation(pod *corev1.Pod, st *podState) {
	podCopy, info, uid, key := pod.DeepCopy(), st.node.info, st.uid, st.key
	f.slow.submit(func(ctx context.Context) {
		cctx, cancel := context.WithTimeout(ctx, f.cfg.SlowTimeout)
		res := safeAttest(cctx, f.cfg.Attester, info, podCopy)
		cancel()
		st.mu.Lock()
		if st.uid == uid && st.attesting {
			st.attestResult = &res
		}
		st.mu.Unlock()
		f.queue.Add(key)
	})
}

func safeAttest(ctx context.Context, a PodAttester, info NodeInfo, pod *corev1.Pod) (res AttestResult) {
	defer func() {
		if r := recover(); r != nil {
			res = AttestResult{Reason: fmt.Sprintf("attester panicked: %v", r)}
		}
	}()
	return a.AttestPod(ctx, info, pod)
}

func safeProbe(ctx context.Context, p ProbeRunner, info NodeInfo, pod *corev1.Pod, c corev1.Container) (code int32, msg string) {
	defer func() {
		if r := recover(); r != nil {
			code, msg = 1, fmt.Sprintf("probe runner panicked: %v", r)
		}
	}()
	return p.RunProbe(ctx, info, pod, c)
}

func (f *Fleet) stepContainers(pod *corev1.Pod, st *podState, now time.Time, w *waker) {
	initDone := true
	for _, c := range st.init {
		if c.sidecar {
			f.stepCtr(pod, st, c, now, w)
			if c.phase != ctrRunning && !st.initialized {
				initDone = false
				break
			}
			continue
		}
		if c.completed() {
			continue
		}
		f.stepCtr(pod, st, c, now, w)
		if c.completed() {
			continue
		}
		initDone = false
		break
	}
	if initDone {
		st.initialized = true
	}
	if st.initialized {
		for _, c := range st.app {
			f.stepCtr(pod, st, c, now, w)
		}
	}
	// Regular containers done for good: the kubelet stops sidecars.
	if st.initialized && len(st.app) > 0 {
		done := true
		for _, c := range st.app {
			if c.phase != ctrExited || f.shouldRestart(pod, c) {
				done = false
			}
		}
		if done {
			for _, c := range st.init {
				if c.sidecar && c.phase == ctrRunning {
					c.exit(now, 0, "")
				}
			}
		}
	}
	if ph := f.podPhase(pod, st); ph == corev1.PodSucceeded || ph == corev1.PodFailed {
		st.terminal, st.phase = true, ph
		f.release(st)
	}
}

func (c *ctr) completed() bool {
	return c.phase == ctrExited && c.term != nil && c.term.ExitCode == 0
}

func (f *Fleet) shouldRestart(pod *corev1.Pod, c *ctr) bool {
	if c.term == nil {
		return false
	}
	if c.sidecar {
		return true
	}
	policy := pod.Spec.RestartPolicy
	if c.init {
		if policy == corev1.RestartPolicyNever {
			return false
		}
		return c.term.ExitCode != 0
	}
	if c.spec.RestartPolicy != nil {
		policy = corev1.RestartPolicy(*c.spec.RestartPolicy)
	}
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return c.term.ExitCode != 0
	default:
		return true
	}
}

// crashBackoff is the delay before restart number attempt+1: the first
// restart is immediate, then 10 s doubling to 5 min (kubelet).
func (f *Fleet) crashBackoff(attempt int32) time.Duration {
	if attempt == 0 {
		return 0
	}
	d := f.cfg.BackoffInitial
	for i := int32(1); i < attempt; i++ {
		d *= 2
		if d >= f.cfg.BackoffMax {
			return f.cfg.BackoffMax
		}
	}
	return d
}

// stepCtr advances one container as far as it can go now.
func (f *Fleet) stepCtr(pod *corev1.Pod, st *podState, c *ctr, now time.Time, w *waker) {
	for i := 0; ; i++ {
		if i == 8 { // a container that keeps ending at once: look again soon
			w.at(now)
			return
		}
		switch c.phase {
		case ctrWaiting:
			if c.term != nil { // exited, waiting for its restart
				if now.Before(c.restartAt) {
					w.at(c.restartAt)
					return
				}
				c.last, c.term = c.term, nil
				c.attempt++
			}
			msg := c.beh.invalid
			if msg == "" && st.handler == HandlerVNode {
				msg = vnodeLimitation(st.node, pod, &c.spec)
			}
			if msg != "" {
				if now.Before(c.nextCreate) {
					w.at(c.nextCreate)
					return
				}
				c.waitReason, c.waitMsg = reasonCreateContainerError, msg
				c.nextCreate = now.Add(f.cfg.BackoffInitial)
				f.event(st, pod, c.fieldPath, corev1.EventTypeWarning, "Failed", "Error: "+msg)
				w.at(c.nextCreate)
				return
			}
			f.startCtr(pod, st, c, now)
		case ctrRunning:
			switch c.beh.kind {
			case runProbe:
				if c.probeDone {
					c.exit(now, c.probeCode, c.probeMsg)
					continue
				}
				if !c.probeRunning {
					c.probeRunning = true
					f.startProbe(pod, st, c)
				}
				return
			case runThenExit:
				end := c.started.Add(c.beh.runFor)
				if now.Before(end) {
					w.at(end)
					return
				}
				c.exit(end, c.beh.exitCode, c.beh.message)
			default:
				return
			}
		case ctrExited:
			if !f.shouldRestart(pod, c) {
				return
			}
			delay := f.crashBackoff(c.attempt)
			c.restartAt = c.term.FinishedAt.Add(delay)
			c.phase = ctrWaiting
			if now.Before(c.restartAt) {
				c.waitReason = reasonCrashLoopBackOff
				c.waitMsg = fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", delay, c.spec.Name, pod.Name, pod.Namespace, pod.UID)
				f.event(st, pod, c.fieldPath, corev1.EventTypeWarning, "BackOff",
					fmt.Sprintf("Back-off restarting failed container %s in pod %s_%s(%s)", c.spec.Name, pod.Name, pod.Namespace, pod.UID))
				w.at(c.restartAt)
				return
			}
		}
	}
}

func (f *Fleet) startCtr(pod *corev1.Pod, st *podState, c *ctr, now time.Time) {
	c.phase = ctrRunning
	c.waitReason, c.waitMsg = "", ""
	c.id = "containerd://" + randomHex(64)
	c.started = now
	c.probeRunning, c.probeDone = false, false
	if f.cfg.QuietContainerEvents {
		return
	}
	f.event(st, pod, c.fieldPath, corev1.EventTypeNormal, "Pulled",
		fmt.Sprintf("Container image %q already present on machine and can be accessed by the pod", c.spec.Image))
	f.event(st, pod, c.fieldPath, corev1.EventTypeNormal, "Created", "Container created")
	f.event(st, pod, c.fieldPath, corev1.EventTypeNormal, "Started", "Container started")
}

func (c *ctr) exit(now time.Time, code int32, msg string) {
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	c.phase = ctrExited
	c.term = &corev1.ContainerStateTerminated{
		ExitCode:    code,
		Reason:      reason,
		Message:     truncateMessage(msg),
		StartedAt:   metav1.NewTime(c.started.Truncate(time.Second)),
		FinishedAt:  metav1.NewTime(now.Truncate(time.Second)),
		ContainerID: c.id,
	}
}

func (f *Fleet) startProbe(pod *corev1.Pod, st *podState, c *ctr) {
	podCopy, info, spec, uid, key, id := pod.DeepCopy(), st.node.info, c.spec, st.uid, st.key, c.id
	f.slow.submit(func(ctx context.Context) {
		cctx, cancel := context.WithTimeout(ctx, f.cfg.SlowTimeout)
		code, msg := safeProbe(cctx, f.cfg.Probes, info, podCopy, spec)
		cancel()
		st.mu.Lock()
		if st.uid == uid && c.id == id && c.phase == ctrRunning {
			c.probeDone, c.probeCode, c.probeMsg = true, code, msg
		}
		st.mu.Unlock()
		f.queue.Add(key)
	})
}

// killPod stops the containers of a pod being deleted and confirms the
// deletion (grace period 0), as the kubelet does once they have stopped.
func (f *Fleet) killPod(ctx context.Context, pod *corev1.Pod, st *podState) error {
	if !f.cfg.QuietContainerEvents && !st.released {
		for _, c := range append(append([]*ctr{}, st.init...), st.app...) {
			if c.phase == ctrRunning {
				f.event(st, pod, c.fieldPath, corev1.EventTypeNormal, "Killing", "Stopping container "+c.spec.Name)
			}
		}
	}
	f.release(st)
	err := st.node.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptrTo(int64(0)),
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return err
	}
	return nil
}
