package hstspolicy

import (
	"fmt"
	"time"
)

// Ramp raises max-age in stages, as hstspreload.org advises for a first
// deployment: serve a short max-age, check that every page and subdomain
// works over HTTPS, then raise it (e.g. 300 → 604800 → 2592000 → final).
// A mistake made while max-age is short strands returning visitors for
// minutes, not years.
//
// Stages follow each other by the clock, counted from Start, so no reload is
// needed to advance. After the last stage the handler's own max_age (and
// preload, if set) is served for good. Before Start the first stage applies.
type Ramp struct {
	// Start is when the first stage begins, as an RFC 3339 timestamp
	// ("2026-12-01T00:00:00Z"). Required: a ramp counted from the time the
	// config loaded would restart on every reload.
	Start time.Time `json:"start,omitzero"`

	// Stages are served in order before the final max_age. Each stage's
	// max_age must be above the previous one and below the final max_age.
	Stages []Stage `json:"stages,omitempty"`
}

// Stage is one step of a Ramp.
type Stage struct {
	// MaxAge is the max-age served during this stage, in seconds or
	// Caddy's duration syntax. Required, and above zero.
	MaxAge Seconds `json:"max_age"`

	// Hold is how long this stage is served before the next begins. It
	// must be at least MaxAge, so that every browser that cached this
	// stage's policy has seen it expire before a longer one is promised
	// (hstspreload.org's roll-out advice). Default: MaxAge.
	Hold Seconds `json:"hold,omitempty"`
}

// provision applies the default hold of each stage.
func (rp *Ramp) provision() {
	for i := range rp.Stages {
		if rp.Stages[i].Hold == 0 {
			rp.Stages[i].Hold = rp.Stages[i].MaxAge
		}
	}
}

// validate checks the ramp against the final max-age it leads to.
func (rp *Ramp) validate(final Seconds) error {
	if rp.Start.IsZero() {
		return fmt.Errorf("ramp.start is missing; set it to the RFC 3339 time the ramp begins, e.g. %q",
			time.Now().UTC().Truncate(time.Hour).Format(time.RFC3339))
	}
	if len(rp.Stages) == 0 {
		return fmt.Errorf("ramp.stages is empty; list the max-ages to serve before the final one, e.g. 300 604800 2592000")
	}
	if final == 0 {
		return fmt.Errorf("max_age = 0 with a ramp: a ramp must lead to a positive max_age; remove the ramp to withdraw HSTS")
	}
	var prev Seconds
	for i, st := range rp.Stages {
		switch {
		case st.MaxAge <= 0:
			return fmt.Errorf("ramp.stages[%d].max_age = %d: must be above zero", i, st.MaxAge)
		case st.MaxAge <= prev:
			return fmt.Errorf("ramp.stages[%d].max_age = %d: must be above the previous stage's %d; list stages in rising order", i, st.MaxAge, prev)
		case st.MaxAge >= final:
			return fmt.Errorf("ramp.stages[%d].max_age = %d: must be below the final max_age %d; drop this stage or raise max_age", i, st.MaxAge, final)
		case st.Hold < st.MaxAge:
			return fmt.Errorf("ramp.stages[%d].hold = %d: must be at least the stage's max_age %d, so browsers forget a stage before a longer one is promised; raise hold or omit it", i, st.Hold, st.MaxAge)
		}
		prev = st.MaxAge
	}
	return nil
}

// schedule is a compiled ramp: stage i is served until ends[i].
type schedule struct {
	ends   []time.Time
	values []string
}

func (rp *Ramp) compile(includeSubdomains bool) schedule {
	var s schedule
	at := rp.Start
	for _, st := range rp.Stages {
		at = at.Add(st.Hold.Duration())
		maxAge := int64(st.MaxAge)
		// preload is sent only with the final max-age: a stage's short
		// max-age would fail hstspreload.org's checks.
		s.ends = append(s.ends, at)
		s.values = append(s.values, Header{MaxAge: &maxAge, IncludeSubDomains: includeSubdomains}.String())
	}
	return s
}

// at returns the value to serve at time now, and false once the ramp is over.
func (s schedule) at(now time.Time) (string, bool) {
	for i, end := range s.ends {
		if now.Before(end) {
			return s.values[i], true
		}
	}
	return "", false
}

// end returns when the last stage ends.
func (s schedule) end() time.Time {
	if len(s.ends) == 0 {
		return time.Time{}
	}
	return s.ends[len(s.ends)-1]
}
