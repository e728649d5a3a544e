package caddyfile

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// The fleet option's value rules live once, in the module: a Caddyfile and
// its JSON twin are refused with the same message when the config loads.
func TestFleetValueRulesLiveInTheModule(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir()) // the instance ID is kept there
	adapter := caddyconfig.GetAdapter("caddyfile")
	for _, tc := range []struct{ caddyfile, json, want string }{
		{"stale_after 2", `{"stale_after": 2}`, "stale_after = 2: a live instance's record can look two intervals old"},
		{"interval 100ms", `{"interval": "100ms"}`, "interval = 100ms: out of range"},
		{"gone_after 3", `{"gone_after": 3}`, "gone_after = 3: must be more than stale_after (3)"},
		{"clock_tolerance 10ms", `{"clock_tolerance": "10ms"}`, "clock_tolerance = 10ms"},
		{"webhook ftp://alerts.example.com", `{"webhook": {"url": "ftp://alerts.example.com"}}`, `webhook url = "ftp://alerts.example.com": not an absolute http or https URL`},
	} {
		t.Run(tc.caddyfile, func(t *testing.T) {
			adapted, _, err := adapter.Adapt([]byte("{\n\tfleet {\n\t\t"+tc.caddyfile+"\n\t}\n}\n"), map[string]any{"filename": "Caddyfile"})
			if err != nil {
				t.Fatalf("adapt: %v (the Caddyfile side must only map tokens)", err)
			}
			fromCaddyfile := validateErr(t, adapted)
			fromJSON := validateErr(t, []byte(`{"apps": {"fleet": `+tc.json+`}}`))
			if fromCaddyfile != fromJSON {
				t.Errorf("Caddyfile and JSON refused differently:\n%s\n%s", fromCaddyfile, fromJSON)
			}
			if !strings.Contains(fromJSON, tc.want) || !strings.Contains(fromJSON, "fix:") {
				t.Errorf("error %q; want it to contain %q and a fix", fromJSON, tc.want)
			}
		})
	}
}

func validateErr(t *testing.T, cfgJSON []byte) string {
	t.Helper()
	var cfg caddy.Config
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		t.Fatal(err)
	}
	err := caddy.Validate(&cfg)
	if err == nil {
		t.Fatalf("config accepted: %s", cfgJSON)
	}
	return err.Error()
}
