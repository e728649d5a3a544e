package hstspolicy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func TestRampByInjectedClock(t *testing.T) {
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	now := start.Add(-time.Hour)
	final := Seconds(TwoYears)
	h := &Handler{
		MaxAge:  &final,
		Preload: true,
		Ramp: &Ramp{Start: start, Stages: []Stage{
			{MaxAge: 300},
			{MaxAge: 604800},
			{MaxAge: 2592000, Hold: 5184000},
		}},
		now: func() time.Time { return now },
	}
	provisioned(t, h)
	serve := func() string {
		rec := httptest.NewRecorder()
		_ = h.ServeHTTP(rec, tlsRequest(), caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			w.WriteHeader(200)
			return nil
		}))
		return rec.Header().Get(headerKey)
	}
	for _, step := range []struct {
		at   time.Duration
		want string
	}{
		{-time.Hour, "max-age=300; includeSubDomains"}, // before start: first stage
		{0, "max-age=300; includeSubDomains"},
		{299 * time.Second, "max-age=300; includeSubDomains"},
		{300 * time.Second, "max-age=604800; includeSubDomains"},
		{300*time.Second + 604799*time.Second, "max-age=604800; includeSubDomains"},
		{300*time.Second + 604800*time.Second, "max-age=2592000; includeSubDomains"},
		{(300 + 604800 + 5184000 - 1) * time.Second, "max-age=2592000; includeSubDomains"},
		{(300 + 604800 + 5184000) * time.Second, "max-age=63072000; includeSubDomains; preload"},
		{365 * 24 * time.Hour, "max-age=63072000; includeSubDomains; preload"},
	} {
		now = start.Add(step.at)
		if got := serve(); got != step.want {
			t.Errorf("at start%+v: %q, want %q", step.at, got, step.want)
		}
	}
	// Once over, the ramp stays over without reading the clock.
	now = start
	if got := serve(); !strings.Contains(got, "preload") {
		t.Errorf("after the ramp ended, a clock going back served %q", got)
	}
}

func TestRampValidate(t *testing.T) {
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		final Seconds
		ramp  Ramp
		want  string
	}{
		{"no_start", 600, Ramp{Stages: []Stage{{MaxAge: 300}}}, `ramp.start = "": is missing; fix: set it to the RFC 3339 time`},
		{"no_stages", 600, Ramp{Start: start}, "ramp.stages = []: is empty; fix: list the max-ages"},
		{"final_zero", 0, Ramp{Start: start, Stages: []Stage{{MaxAge: 300}}}, "max_age = 0: a ramp must lead to a positive max_age; fix: remove the ramp"},
		{"zero_stage", 600, Ramp{Start: start, Stages: []Stage{{MaxAge: 0}}}, "ramp.stages[0].max_age = 0: must be above zero; fix: "},
		{"not_rising", 6000, Ramp{Start: start, Stages: []Stage{{MaxAge: 300}, {MaxAge: 300}}}, "ramp.stages[1].max_age = 300: must be above the previous"},
		{"not_below_final", 600, Ramp{Start: start, Stages: []Stage{{MaxAge: 600}}}, "must be below the final max_age 600"},
		{"short_hold", 6000, Ramp{Start: start, Stages: []Stage{{MaxAge: 300, Hold: 299}}}, "ramp.stages[0].hold = 299: must be at least the stage's max_age 300"},
		{"ok", 6000, Ramp{Start: start, Stages: []Stage{{MaxAge: 300}, {MaxAge: 600, Hold: 900}}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp := tc.ramp
			rp.provision()
			err := rp.validate(tc.final)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("validate = %v, want %q", err, tc.want)
			}
		})
	}
}
