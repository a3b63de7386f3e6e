package node

import (
	"context"
	"sync"
)

// jobPool runs slow calls (attestation, probes) on a fixed number of
// goroutines; jobs wait in an unbounded FIFO, so submitting never blocks a
// pod worker.
type jobPool struct {
	workers int
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []func(context.Context)
	closed  bool
}

func newJobPool(workers int) *jobPool {
	p := &jobPool{workers: workers}
	p.cond = sync.NewCond(&p.mu)
	return p
}

func (p *jobPool) submit(job func(context.Context)) {
	p.mu.Lock()
	if !p.closed {
		p.queue = append(p.queue, job)
		p.cond.Signal()
	}
	p.mu.Unlock()
}

func (p *jobPool) run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := 0; i < p.workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				p.mu.Lock()
				for len(p.queue) == 0 && !p.closed {
					p.cond.Wait()
				}
				if p.closed {
					p.mu.Unlock()
					return
				}
				job := p.queue[0]
				p.queue[0] = nil
				p.queue = p.queue[1:]
				p.mu.Unlock()
				job(ctx)
			}
		}()
	}
	<-ctx.Done()
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
	wg.Wait()
}
