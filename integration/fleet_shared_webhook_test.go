package integration

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hardtls/caddy-hardtls/fleet"
)

// TestFleetAlertsUsePinReportWebhook: a fleet app without a webhook of
// its own sends its alerts to the pinreport app's webhook, signed with
// pinreport's secret (issue 11: alerts through "the existing webhook").
// A record of a second instance is planted in the shared storage and
// never written again: after stale_after intervals the fleet calls it
// stale and sends one fleet_instance_stale alert, which the receiver
// checks with its own HMAC computation.
func TestFleetAlertsUsePinReportWebhook(t *testing.T) {
	const secret = "pinreport-s3cret"
	var (
		mu       sync.Mutex
		stale    []string // instances named by stale alerts
		problems []string
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		var al fleet.Alert
		err := json.Unmarshal(body, &al)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case !hmac.Equal([]byte(r.Header.Get("X-Hardtls-Signature")), []byte(want)):
			problems = append(problems, "a delivery not signed with pinreport's secret: "+string(body))
		case err != nil:
			problems = append(problems, "not an alert: "+string(body))
		case r.Header.Get("X-Hardtls-Event") != al.Event:
			problems = append(problems, "event header "+r.Header.Get("X-Hardtls-Event")+", body "+al.Event)
		case al.Event == fleet.EventInstanceStale:
			for _, it := range al.Items {
				stale = append(stale, it.Instances...)
			}
		}
	}))
	t.Cleanup(recv.Close)

	storage := filepath.Join(expand("{{data_dir}}"), "fleet-shared-webhook")
	ghost := uuid.NewString()
	plantFleetRecord(t, storage, ghost, time.Now())

	load(t, expand(fmt.Sprintf(`{
	"admin": {"listen": "localhost:{{admin_port}}"},
	"storage": {"module": "file_system", "root": %q},
	"logging": {"logs": {"default": {"writer": {"output": "file", "filename": "{{log_file}}"}, "encoder": {"format": "json"}, "level": "DEBUG"}}},
	"apps": {
		"pinreport": {"scan_interval": "1h", "webhook": {"url": %q, "secret": %q, "backoff": "50ms"}},
		"fleet": {"interval": "1s", "stale_after": 3, "gone_after": 600},
		"http": {
			"http_port": {{http_port}},
			"https_port": {{https_port}},
			"servers": {"srv0": {
				"listen": ["127.0.0.1:{{http_port}}"],
				"routes": [{"handle": [{"handler": "static_response", "body": "ok"}]}]
			}}
		}
	}
}`, storage, recv.URL+"/hook", secret)), "json")

	eventually(t, 30*time.Second, "a stale alert for the planted instance at pinreport's webhook", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) > 0 {
			t.Fatalf("webhook receiver: %s", strings.Join(problems, "; "))
		}
		for _, id := range stale {
			if id == ghost {
				return true, ""
			}
		}
		return false, fmt.Sprintf("stale alerts named %v", stale)
	})
	// Once per fleet: more intervals send no second stale alert.
	time.Sleep(3 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(stale) != 1 || len(problems) > 0 {
		t.Errorf("stale alerts named %v, problems %v; want one alert naming %s", stale, problems, ghost)
	}
}

// plantFleetRecord writes, into a file_system storage at root, the record
// a fleet instance with id writes at written: ready, writing every second,
// with facts of its own. Its key carries the facts' hash as the fleet app
// computes it (the first 16 hex digits of their SHA-256).
func plantFleetRecord(t *testing.T, root, id string, written time.Time) {
	t.Helper()
	written = written.Truncate(time.Millisecond)
	facts, err := json.Marshal(fleet.InstanceFacts{
		Facts:    fleet.Facts{Hostname: "ghost", CaddyVersion: "v2.11.9", ConfigHash: strings.Repeat("0f", 32)},
		Started:  written.Add(-time.Minute).UTC(),
		Interval: time.Second,
		Ready:    true,
	})
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(fleet.Record{Version: 1, Instance: id, WrittenAt: written.UTC(), Facts: facts})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(facts)
	dir := filepath.Join(root, "hardtls", "fleet", "v1", "instances")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("%s_%d_%s.json", id, written.UnixMilli(), hex.EncodeToString(sum[:])[:16])
	if err := os.WriteFile(filepath.Join(dir, name), body, 0o600); err != nil {
		t.Fatal(err)
	}
}
