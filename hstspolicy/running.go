package hstspolicy

import (
	"context"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// runningPoll is how often a loaded config is checked for having become
// the running one.
const runningPoll = 20 * time.Millisecond

// configIsRunning returns a function that reports whether the config ctx
// belongs to is Caddy's running config. Each config load has a metrics
// registry of its own, which identifies it; the module's context.Context
// does not, since the http app derives one per server.
func configIsRunning(ctx caddy.Context) func() bool {
	reg := ctx.GetMetricsRegistry()
	return func() bool {
		active := caddy.ActiveContext()
		return reg != nil && active.GetMetricsRegistry() == reg
	}
}

// whenRunning calls f once, from a goroutine, as soon as running reports
// true, and never if ctx is done first: a config that is refused after
// its handlers provisioned (another module's error, a port in use) or
// replaced before it ran logs nothing. Caddy has no start hook for
// handlers, and the "started" event reaches only an events app.
func whenRunning(ctx context.Context, running func() bool, f func()) {
	go func() {
		tick := time.NewTicker(runningPoll)
		defer tick.Stop()
		for {
			if running() {
				f()
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}
