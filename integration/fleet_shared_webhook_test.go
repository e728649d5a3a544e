package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	// The receiver checks each delivery's signature with its own HMAC
	// over the body, and that the headers match the body.
	hook := newFleetHook(t, 0, secret)
	staleNaming := func() []string {
		var ids []string
		for _, al := range hook.byEvent(t, fleet.EventInstanceStale) {
			for _, it := range al.Items {
				ids = append(ids, it.Instances...)
			}
		}
		return ids
	}

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
}`, storage, hook.url, secret)), "json")

	eventually(t, 30*time.Second, "a stale alert for the planted instance at pinreport's webhook", func() (bool, string) {
		ids := staleNaming()
		return slices.Contains(ids, ghost), fmt.Sprintf("stale alerts named %v; all alerts:\n%s", ids, hook.summary())
	})
	// Once per fleet: more intervals send no second stale alert.
	time.Sleep(3 * time.Second)
	if ids := staleNaming(); len(ids) != 1 {
		t.Errorf("stale alerts named %v; want one alert naming %s", ids, ghost)
	}
}

// fleetRecordsDir is where a file_system storage at root keeps the fleet
// app's instance records (docs/fleet.md, "The record").
func fleetRecordsDir(root string) string {
	return filepath.Join(root, "hardtls", "fleet", "v1", "instances")
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
	dir := fleetRecordsDir(root)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("%s_%d_%s.json", id, written.UnixMilli(), hex.EncodeToString(sum[:])[:16])
	if err := os.WriteFile(filepath.Join(dir, name), body, 0o600); err != nil {
		t.Fatal(err)
	}
}
