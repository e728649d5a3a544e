package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hardtls/caddy-hardtls/fleet"
)

// fleetACMEConfig is a test instance that gets fleet.test from pebble,
// checks renewals every 2s, and alerts drift only after 30s: a renewal's
// leaf drift lasts until the others' next check, and must not alert.
func fleetACMEConfig(shared, hookURL string, p *pebbleCA, challengePort int) string {
	return fmt.Sprintf(`{
	"admin": {"listen": "127.0.0.1:{env.FLEET_ADMIN_PORT}"},
	"storage": {"module": "file_system", "root": %q},
	"apps": {
		"http": {
			"servers": {
				"fleet": {
					"listen": ["127.0.0.1:{env.FLEET_HTTPS_PORT}"],
					"automatic_https": {"disable_redirects": true},
					"routes": [{"match": [{"host": ["fleet.test"]}], "handle": [{"handler": "hsts"}, {"handler": "static_response", "body": "ok"}]}],
					"tls_connection_policies": [{}]
				}
			}
		},
		"tls": {
			"certificates": {"automate": ["fleet.test"]},
			"automation": {
				"renew_interval": "2s",
				"policies": [{"subjects": ["fleet.test"], "issuers": [{
					"module": "acme", "ca": %q, "trusted_roots_pem_files": [%q], "email": "fleet-test@example.org",
					"challenges": {"http": {"alternate_port": %d}, "tls-alpn": {"disabled": true}}
				}]}]
			}
		},
		"tlsguard": {"profile": "intermediate", "mode": "enforce"},
		"fleet": {"interval": "1s", "stale_after": 10, "gone_after": 600, "drift_grace": "30s", "webhook": {"url": %q, "secret": "fleet-test-secret"}}
	}
}`, shared, p.dirURL, p.rootFile, challengePort, hookURL)
}

// leaves reads, from the records in the shared folder, the leaf each
// instance serves for name.
func leaves(t *testing.T, shared, name string) map[string]string {
	t.Helper()
	dir := fleetRecordsDir(shared)
	entries, _ := os.ReadDir(dir)
	out := map[string]string{}
	newest := map[string]time.Time{}
	for _, e := range entries {
		body, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil || !strings.HasSuffix(e.Name(), ".json") {
			continue // replaced since the listing
		}
		var rec fleet.Record
		var facts fleet.InstanceFacts
		if json.Unmarshal(body, &rec) != nil || json.Unmarshal(rec.Facts, &facts) != nil || rec.WrittenAt.Before(newest[rec.Instance]) {
			continue
		}
		newest[rec.Instance] = rec.WrittenAt
		out[rec.Instance] = ""
		for _, n := range facts.Names {
			if n.Name == name {
				out[rec.Instance] = n.SHA256
			}
		}
	}
	return out
}

// TestFleetACMERenewal: three instances share a pebble-issued
// certificate; it is renewed (60s validity, renewals driven by ARI) by
// one of them and the others pick the new leaf up from the storage, so
// every record ends up naming the same new leaf, and the short-lived leaf
// drift of the pick-up is not alerted.
func TestFleetACMERenewal(t *testing.T) {
	bin := buildCaddy(t)
	base := fleetBase(t)
	pebble := startPebble(t, 60*time.Second)
	tmp := t.TempDir()
	shared := filepath.Join(tmp, "shared")
	hook := newFleetHook(t, base+2, "fleet-test-secret")

	var procs []*fleetProc
	for i, name := range []string{"a", "b", "c"} {
		procs = append(procs, &fleetProc{name: name, dir: filepath.Join(tmp, name), adminPort: base + 40 + i, httpsPort: base + 50 + i,
			config: fleetACMEConfig(shared, hook.url, pebble, base+60+i)})
	}
	logFleetOnFailure(t, hook, procs)
	for _, p := range procs {
		p.start(t, bin)
	}

	same := func(what string, cond func(leaf string) bool) string {
		return waitFleet(t, 90*time.Second, what, func() (string, bool) {
			got := leaves(t, shared, "fleet.test")
			var first string
			for _, p := range procs {
				l := got[p.id]
				if l == "" || (first != "" && l != first) {
					return fmt.Sprint(got), false
				}
				first = l
			}
			return first, cond(first)
		})
	}
	leaf0 := same("every instance serves the first pebble leaf", func(string) bool { return true })
	t.Logf("first leaf %s…", leaf0[:16])

	// Watch the views while the renewal happens: a transient leaf drift is
	// allowed (and reported), an alert for it is not.
	sawDrift := false
	leaf1 := waitFleet(t, 120*time.Second, "a renewed leaf on every instance", func() (string, bool) {
		for _, p := range procs {
			if v, err := p.view(); err == nil {
				for _, d := range v.Drift {
					if d.Kind == fleet.DriftLeaf {
						sawDrift = true
					}
				}
			}
		}
		got := leaves(t, shared, "fleet.test")
		var first string
		for _, p := range procs {
			l := got[p.id]
			if l == "" || l == leaf0 || (first != "" && l != first) {
				return fmt.Sprint(got), false
			}
			first = l
		}
		return first, true
	})
	t.Logf("renewed leaf %s… picked up by all three; leaf drift seen in a view meanwhile: %v", leaf1[:16], sawDrift)
	// (The configs differ in their challenge port, so config drift is
	// alerted once the grace has passed; leaf drift must not be.)
	for _, al := range hook.byEvent(t, fleet.EventDrift) {
		for _, it := range al.Items {
			if it.Kind == fleet.DriftLeaf {
				t.Errorf("leaf drift alerted: %+v; want none for a renewal the others picked up within drift_grace", it)
			}
		}
	}
	if al := hook.byEvent(t, fleet.EventInstanceStale); len(al) != 0 {
		t.Errorf("stale alerts %+v; want none", al)
	}
}
