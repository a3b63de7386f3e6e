package node

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// eventSink writes core/v1 Events the way client-go's recorder does for a
// kubelet: asynchronously, with the node's identity, and a repeat of the
// same event (object, type, reason, message) bumps count and
// lastTimestamp instead of creating a new Event. Events of one object always
// go through the same writer, so they stay in order.
type eventSink struct {
	lanes   []chan eventReq
	stopped chan struct{} // closed when run returns: events are dropped
}

type eventReq struct {
	client  *kubeletClient
	node    string
	ref     corev1.ObjectReference
	typ     string
	reason  string
	message string
	at      time.Time
	forget  bool // drop aggregation state of ref.UID
}

type eventKey struct {
	uid                         types.UID
	fieldPath, typ, reason, msg string
}

type eventSeen struct {
	name, namespace string
	count           int32
}

func newEventSink(workers int) *eventSink {
	s := &eventSink{lanes: make([]chan eventReq, workers), stopped: make(chan struct{})}
	for i := range s.lanes {
		s.lanes[i] = make(chan eventReq, 1024)
	}
	return s
}

func (s *eventSink) lane(uid types.UID) chan eventReq {
	h := fnv.New32a()
	h.Write([]byte(uid))
	return s.lanes[h.Sum32()%uint32(len(s.lanes))]
}

// record queues an event; it blocks only when the writers are far behind.
func (s *eventSink) record(c *kubeletClient, node string, ref corev1.ObjectReference, typ, reason, msg string) {
	s.send(eventReq{client: c, node: node, ref: ref, typ: typ, reason: reason, message: msg, at: time.Now()})
}

func (s *eventSink) send(r eventReq) {
	select {
	case s.lane(r.ref.UID) <- r:
	case <-s.stopped:
	}
}

// forget drops the aggregation state of an object that is gone.
func (s *eventSink) forget(uid types.UID) {
	s.send(eventReq{ref: corev1.ObjectReference{UID: uid}, forget: true})
}

func (s *eventSink) run(ctx context.Context) {
	defer close(s.stopped)
	done := make(chan struct{})
	for _, l := range s.lanes {
		go func(l chan eventReq) {
			defer func() { done <- struct{}{} }()
			seen := map[eventKey]*eventSeen{}
			byUID := map[types.UID][]eventKey{}
			for {
				select {
				case <-ctx.Done():
					return
				case r := <-l:
					if r.forget {
						for _, k := range byUID[r.ref.UID] {
							delete(seen, k)
						}
						delete(byUID, r.ref.UID)
						continue
					}
					k := eventKey{r.ref.UID, r.ref.FieldPath, r.typ, r.reason, r.message}
					if seenBefore, ok := seen[k]; ok {
						if writeRepeat(ctx, r, seenBefore) == nil {
							continue
						}
						delete(seen, k) // the Event is gone: start a new one
					}
					if e := writeNew(ctx, r); e != nil {
						seen[k] = e
						byUID[r.ref.UID] = append(byUID[r.ref.UID], k)
					}
				}
			}
		}(l)
	}
	for range s.lanes {
		<-done
	}
}

func writeNew(ctx context.Context, r eventReq) *eventSeen {
	ns := r.ref.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	t := metav1.NewTime(r.at)
	ev := &corev1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%v.%x", r.ref.Name, r.at.UnixNano()), Namespace: ns},
		InvolvedObject:      r.ref,
		Reason:              r.reason,
		Message:             r.message,
		Type:                r.typ,
		FirstTimestamp:      t,
		LastTimestamp:       t,
		Count:               1,
		Source:              corev1.EventSource{Component: "kubelet", Host: r.node},
		ReportingController: "kubelet",
		ReportingInstance:   r.node,
	}
	got, err := r.client.CoreV1().Events(ns).Create(ctx, ev, metav1.CreateOptions{})
	if err != nil {
		// Namespace terminating, object gone, API down: kubelets drop
		// events they cannot write too.
		return nil
	}
	return &eventSeen{name: got.Name, namespace: ns, count: 1}
}

func writeRepeat(ctx context.Context, r eventReq, s *eventSeen) error {
	patch, _ := json.Marshal(map[string]any{
		"count":         s.count + 1,
		"lastTimestamp": metav1.NewTime(r.at),
		"message":       r.message,
	})
	_, err := r.client.CoreV1().Events(s.namespace).Patch(ctx, s.name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return err
		}
		return nil // transient: keep the state, the next repeat tries again
	}
	s.count++
	return nil
}
