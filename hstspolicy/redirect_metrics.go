package hstspolicy

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a plain-HTTP request is refused, the values of the reason
// label: a fixed set, whatever clients send.
const (
	reasonHostNotAllowed = iota
	reasonMalformedHost
	reasonNoHost
	reasonMalformedTarget
	numRefusalReasons
)

var refusalReasons = [numRefusalReasons]string{
	reasonHostNotAllowed:  "host_not_allowed",
	reasonMalformedHost:   "malformed_host",
	reasonNoHost:          "no_host",
	reasonMalformedTarget: "malformed_target",
}

// refusalReason maps the cause of a refusal to its reason.
func refusalReason(err error) int {
	switch {
	case errors.Is(err, errHostNotAllowed):
		return reasonHostNotAllowed
	case errors.Is(err, errTargetNotPath):
		return reasonMalformedTarget
	case errors.Is(err, ErrHostEmpty):
		return reasonNoHost
	}
	return reasonMalformedHost
}

// refusalCounters counts refused redirects by reason.
type refusalCounters [numRefusalReasons]prometheus.Counter

func (rc *refusalCounters) inc(reason int) {
	if c := rc[reason]; c != nil {
		c.Inc()
	}
}

// newRefusalCounters registers https_redirect_refusals_total on the
// config's registry, or takes the one another https_redirect handler of
// the same config registered, and returns its series, each present from
// the start at 0. A nil registry gives counters that go nowhere.
func newRefusalCounters(reg *prometheus.Registry) (refusalCounters, error) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "https_redirect_refusals_total",
		Help: "Plain-HTTP requests the https_redirect handler answered without a redirect (400 or 421), by reason.",
	}, []string{"reason"})
	if reg != nil {
		if err := reg.Register(vec); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return refusalCounters{}, err
			}
			existing, ok := are.ExistingCollector.(*prometheus.CounterVec)
			if !ok {
				return refusalCounters{}, err
			}
			vec = existing
		}
	}
	var rc refusalCounters
	for i, reason := range refusalReasons {
		rc[i] = vec.WithLabelValues(reason)
	}
	return rc, nil
}
