package tlsguard

import (
	"context"
	"sync"
	"time"
)

// watcher runs one background loop at a time and stops it: Start starts
// the assessment loop, Stop and Cleanup stop it, each possibly more than
// once.
type watcher struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// start runs loop in a goroutine until stop; a loop already running is
// stopped first.
func (w *watcher) start(loop func(ctx context.Context)) {
	w.stop()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	w.mu.Lock()
	w.cancel, w.done = cancel, done
	w.mu.Unlock()
	go func() {
		defer close(done)
		loop(ctx)
	}()
}

// stop cancels the loop and waits until it has returned. It does nothing
// when no loop runs, or on a nil watcher (an app never provisioned).
func (w *watcher) stop() {
	if w == nil {
		return
	}
	w.mu.Lock()
	cancel, done := w.cancel, w.done
	w.cancel, w.done = nil, nil
	w.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// watch logs the grades once the assessment is complete (or after
// startupWait), then re-assesses every LintInterval and logs changes.
func (a *App) watch(ctx context.Context) {
	delay, deadline := 250*time.Millisecond, time.Now().Add(startupWait)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		if as := a.assess(); as.complete || time.Now().After(deadline) {
			a.logAssessment(as)
			break
		}
		delay = min(2*delay, 5*time.Second)
	}
	ticker := time.NewTicker(time.Duration(a.LintInterval))
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			a.logAssessment(a.assess())
		}
	}
}
