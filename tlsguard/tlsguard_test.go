package tlsguard

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestProvisionRefusesBadConfig(t *testing.T) {
	for _, tc := range []struct {
		app  App
		want string
	}{
		{App{Mode: "block"}, `mode = "block": is not a mode; fix: use enforce`},
		{App{Profile: "old"}, `profile = "old": is not a profile`},
		{App{LintInterval: caddy.Duration(time.Millisecond)}, `lint_interval = "1ms": is too short; fix: use 1s or more`},
		{App{Profile: "custom"}, `profile = "custom": needs its settings: protocol_min`},
	} {
		app := tc.app
		err := app.Provision(testContext(t))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Provision(%+v) = %v; want %q", tc.app, err, tc.want)
		}
		if err := app.Cleanup(); err != nil {
			t.Errorf("Cleanup after a failed Provision: %v", err)
		}
	}
}

func TestAppWithoutHTTP(t *testing.T) {
	app := new(App)
	if err := app.Provision(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if app.Profile != ProfileIntermediate || app.Mode != ModeEnforce || app.LintInterval != defaultLintInterval {
		t.Errorf("defaults: %s %s %v", app.Profile, app.Mode, app.LintInterval)
	}
	if err := app.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := app.Start(); err != nil {
		t.Fatal(err)
	}
	r := app.Report()
	if r.Profile != "intermediate" || r.Mode != "enforce" || len(r.Servers) != 0 || r.Findings == nil {
		t.Errorf("report %+v", r)
	}
	if err := app.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := app.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if err := app.Cleanup(); err != nil {
		t.Fatal("second Cleanup:", err)
	}
}

func TestValidateListsEveryViolation(t *testing.T) {
	fs := Findings{
		{Severity: SeverityError, Code: "policy.insecure_secrets_log", Server: "srv0", Policy: intPtr(0), Field: "insecure_secrets_log",
			Value: `"/tmp/k"`, Message: "keys on disk", Fix: "remove insecure_secrets_log"},
		{Severity: SeverityInfo, Code: "policy.curves.incomplete", Server: "srv0", Policy: intPtr(0)},
		{Severity: SeverityError, Code: "policy.curve.not_in_profile", Server: "srv1", Policy: intPtr(2), Field: "curves",
			Value: "secp521r1", Want: "only x25519", Message: "not in profile", Fix: "remove secp521r1 from curves"},
	}
	app := &App{Mode: ModeEnforce, profile: modernProfile(), findings: fs}
	err := app.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"profile modern (mode enforce) refuses 2 setting(s) of the config",
		"set mode harden (it applies the profile to connection policies) or audit",
		`1. server "srv0" policy 0: insecure_secrets_log = "/tmp/k": keys on disk (policy.insecure_secrets_log); fix: remove insecure_secrets_log`,
		`2. server "srv1" policy 2: curves = secp521r1: not in profile; the profile requires only x25519 (policy.curve.not_in_profile); fix: remove secp521r1 from curves`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "curves.incomplete") {
		t.Error("an info finding refused the config")
	}
	for _, mode := range []Mode{ModeHarden, ModeAudit} {
		app.Mode = mode
		if err := app.Validate(); err != nil {
			t.Errorf("mode %s: %v", mode, err)
		}
	}
}

func TestLogAssessmentLogsChangesOnce(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	app := &App{logger: zap.New(core), logs: newLogMemory()}
	finding := Finding{Severity: SeverityWarning, Code: "site.hsts.missing", Server: "srv0", Site: "a.example", Message: "no hsts"}
	as := &assessment{
		findings: Findings{finding},
		servers: []ServerReport{{Name: "srv0", Sites: []SiteReport{
			{Host: "a.example", Grade: &Grade{Grade: "A-", Score: 96, Caps: []Cap{{"A-", "hsts.missing", "no HSTS"}}}},
			{Host: "b.example", Pending: "no certificate yet"},
		}}},
	}
	app.logAssessment(as)
	app.logAssessment(as)
	as.servers[0].Sites[0].Grade = &Grade{Grade: "A+", Score: 96}
	app.logAssessment(as)

	var grades []string
	for _, e := range logs.All() {
		switch e.Message {
		case "site grade":
			grades = append(grades, e.ContextMap()["site"].(string)+"="+e.ContextMap()["grade"].(string))
		case "site grade pending":
			grades = append(grades, e.ContextMap()["site"].(string)+"=pending")
		}
	}
	if got := strings.Join(grades, " "); got != "a.example=A- b.example=pending a.example=A+" {
		t.Errorf("grade logs: %s", got)
	}
	if n := logs.FilterMessage("tlsguard finding").Len(); n != 1 {
		t.Errorf("finding logged %d times, want once", n)
	}
	first := logs.FilterMessage("site grade").All()[0].ContextMap()
	if caps, _ := first["caps"].([]any); len(caps) != 1 || caps[0] != "A-: no HSTS (hsts.missing)" {
		t.Errorf("caps field %v", first["caps"])
	}
}

// TestLogMemoryConcurrent: assessments on the ticker and for reports log
// through one memory; each finding is logged once however many race.
func TestLogMemoryConcurrent(t *testing.T) {
	m := newLogMemory()
	f := Finding{Code: "site.hsts.missing", Server: "srv0", Site: "a.example"}
	var firsts, changes atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if m.firstTime(f) {
					firsts.Add(1)
				}
				if m.gradeChanged("srv0", "a.example", "A+") {
					changes.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if firsts.Load() != 1 || changes.Load() != 1 {
		t.Errorf("finding first %d times, grade changed %d times; want once each", firsts.Load(), changes.Load())
	}
}
