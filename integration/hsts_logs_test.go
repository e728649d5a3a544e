package integration

import (
	"strings"
	"testing"
	"time"
)

// countLogs counts the log lines after mark whose msg is msg and whose
// fields hold want.
func countLogs(t *testing.T, mark int64, msg string, want map[string]any) int {
	t.Helper()
	n := 0
	for _, e := range logsSince(t, mark, msg, 0) {
		if matches(e, want) {
			n++
		}
	}
	return n
}

// hstsSite is a Caddyfile site on localhost with the given hsts and
// extra lines.
func hstsSite(hsts, extra string) string {
	return caddyfile("local_certs\n\tauto_https disable_redirects", "localhost {\n\t"+hsts+"\n\t"+extra+"\n\trespond \"ok\"\n}\n")
}

// TestHSTSLogsOnlyForRunningConfig loads a config that Caddy refuses after
// the hsts handler has provisioned (the https_redirect after it names a
// canonical host the config does not serve), then two that run: the
// refused one logs none of the handlers' findings, each running one logs
// its own once.
func TestHSTSLogsOnlyForRunningConfig(t *testing.T) {
	load(t, hstsSite("hsts", ""), "caddyfile")
	mark := logMark()
	hsts := func(maxAge string) string {
		return "hsts " + maxAge + " {\n\t\tramp {\n\t\t\tstart 2030-01-01T00:00:00Z\n\t\t\tstage 60\n\t\t}\n\t}"
	}
	if msg := loadError(t, hstsSite(hsts("301"), "https_redirect {\n\t\tcanonical_host www.nowhere.example\n\t}"), "caddyfile"); !strings.Contains(msg, "canonical_host") {
		t.Fatalf("refused for another reason: %s", msg)
	}
	load(t, hstsSite(hsts("302"), "https_redirect {\n\t\tcanonical_host localhost\n\t}"), "caddyfile")
	if !waitLog(t, mark, "risky hsts max_age", map[string]any{"max_age": float64(302)}, 10*time.Second) {
		t.Fatal("the running config's risky max_age was not logged")
	}
	load(t, hstsSite(hsts("303"), ""), "caddyfile")
	if !waitLog(t, mark, "risky hsts max_age", map[string]any{"max_age": float64(303)}, 10*time.Second) {
		t.Fatal("the next running config's risky max_age was not logged")
	}
	for _, tc := range []struct {
		msg  string
		want map[string]any
		n    int
	}{
		{"risky hsts max_age", map[string]any{"max_age": float64(301)}, 0},
		{"hsts ramp", map[string]any{"final": "max-age=301; includeSubDomains"}, 0},
		{"risky hsts max_age", map[string]any{"max_age": float64(302)}, 1},
		{"hsts ramp", map[string]any{"final": "max-age=302; includeSubDomains"}, 1},
		{"risky hsts max_age", map[string]any{"max_age": float64(303)}, 1},
	} {
		if got := countLogs(t, mark, tc.msg, tc.want); got != tc.n {
			t.Errorf("%q %v: %d lines, want %d", tc.msg, tc.want, got, tc.n)
		}
	}
}

// TestHSTSPreloadRemovalLogged serves preload, tries a config without it
// that is refused, then runs one without it: only that one logs what
// leaving the preload list takes, for the site that served preload.
func TestHSTSPreloadRemovalLogged(t *testing.T) {
	mark := logMark()
	// Over ten years, so that the running config logs a warning: the
	// handler records what it serves before it logs.
	load(t, hstsSite("hsts 315360001 {\n\t\tpreload\n\t}", ""), "caddyfile")
	if !waitLog(t, mark, "hsts preload warning", map[string]any{"code": "header.preloadable.max_age.over_10_years"}, 10*time.Second) {
		t.Fatal("the preload config did not run")
	}
	loadError(t, hstsSite("hsts 315360001", "https_redirect {\n\t\tcanonical_host www.nowhere.example\n\t}"), "caddyfile")
	load(t, hstsSite("hsts 315360001", ""), "caddyfile")
	if !waitLog(t, mark, "hsts preload removal", map[string]any{"header": "max-age=315360001; includeSubDomains"}, 10*time.Second) {
		t.Fatal("dropping preload was not logged")
	}
	lines := logsSince(t, mark, "hsts preload removal", 0)
	if len(lines) != 1 {
		t.Fatalf("%d removal lines, want 1: %v", len(lines), lines)
	}
	if hosts, _ := lines[0]["hosts"].([]any); len(hosts) != 1 || hosts[0] != "localhost" {
		t.Errorf("hosts = %v, want [localhost]", lines[0]["hosts"])
	}
	for _, field := range []string{"detail", "fix"} {
		if s, _ := lines[0][field].(string); s == "" {
			t.Errorf("no %s in %v", field, lines[0])
		}
	}
}
