package hstspolicy

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hardtls/caddy-hardtls/internal/strictjson"
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
	// Required: at least one stage.
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

// ParseRampStart parses the start of a ramp, an RFC 3339 time. Errors are
// *strictjson.FieldError without a field.
func ParseRampStart(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, &strictjson.FieldError{Value: strconv.Quote(s), Why: "is not an RFC 3339 time",
			Fix: "write the UTC time the ramp begins, such as \"2026-12-01T00:00:00Z\""}
	}
	return t, nil
}

// UnmarshalJSON decodes a ramp, naming the field of a bad value by its
// path ("stages[1].hold").
func (rp *Ramp) UnmarshalJSON(b []byte) error {
	var raw struct {
		Start  json.RawMessage   `json:"start"`
		Stages []json.RawMessage `json:"stages"`
	}
	if err := strictjson.Decode(b, &raw); err != nil {
		return err
	}
	*rp = Ramp{}
	if len(raw.Start) > 0 && string(raw.Start) != "null" {
		var s string
		if err := json.Unmarshal(raw.Start, &s); err != nil {
			return &strictjson.FieldError{Field: "start", Value: string(raw.Start), Why: "is not a string",
				Fix: "write the RFC 3339 time in quotes, such as \"2026-12-01T00:00:00Z\""}
		}
		start, err := ParseRampStart(s)
		if err != nil {
			return strictjson.InField("start", err)
		}
		rp.Start = start
	}
	for i, stage := range raw.Stages {
		var st Stage
		if err := st.UnmarshalJSON(stage); err != nil {
			return strictjson.InField(fmt.Sprintf("stages[%d]", i), err)
		}
		rp.Stages = append(rp.Stages, st)
	}
	return nil
}

// UnmarshalJSON decodes a stage, naming the field of a bad value.
func (st *Stage) UnmarshalJSON(b []byte) error {
	var raw struct {
		MaxAge json.RawMessage `json:"max_age"`
		Hold   json.RawMessage `json:"hold"`
	}
	if err := strictjson.Decode(b, &raw); err != nil {
		return err
	}
	*st = Stage{}
	if raw.MaxAge != nil {
		if err := st.MaxAge.UnmarshalJSON(raw.MaxAge); err != nil {
			return strictjson.InField("max_age", err)
		}
	}
	if raw.Hold != nil {
		if err := st.Hold.UnmarshalJSON(raw.Hold); err != nil {
			return strictjson.InField("hold", err)
		}
	}
	return nil
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
		return &strictjson.FieldError{Field: "ramp.start", Value: `""`, Why: "is missing",
			Fix: fmt.Sprintf("set it to the RFC 3339 time the ramp begins, such as %q", time.Now().UTC().Truncate(time.Hour).Format(time.RFC3339))}
	}
	if len(rp.Stages) == 0 {
		return &strictjson.FieldError{Field: "ramp.stages", Value: "[]", Why: "is empty",
			Fix: "list the max-ages to serve before the final one, such as 300, 604800 and 2592000"}
	}
	if final == 0 {
		return &strictjson.FieldError{Field: "max_age", Value: "0", Why: "a ramp must lead to a positive max_age",
			Fix: "remove the ramp to withdraw HSTS with max_age 0, or set a positive max_age"}
	}
	var prev Seconds
	for i, st := range rp.Stages {
		at := func(field string, v Seconds, why, fix string) error {
			return &strictjson.FieldError{Field: fmt.Sprintf("ramp.stages[%d].%s", i, field), Value: strconv.FormatInt(int64(v), 10), Why: why, Fix: fix}
		}
		switch {
		case st.MaxAge <= 0:
			return at("max_age", st.MaxAge, "must be above zero", "give every stage a positive max_age, such as 300")
		case st.MaxAge <= prev:
			return at("max_age", st.MaxAge, fmt.Sprintf("must be above the previous stage's %d", prev), "list stages in rising order")
		case st.MaxAge >= final:
			return at("max_age", st.MaxAge, fmt.Sprintf("must be below the final max_age %d", final), "drop this stage or raise max_age")
		case st.Hold < st.MaxAge:
			return at("hold", st.Hold, fmt.Sprintf("must be at least the stage's max_age %d, so browsers forget a stage before a longer one is promised", st.MaxAge),
				"raise hold or omit it")
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
