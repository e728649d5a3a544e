package integration

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hardtls/caddy-hardtls/fleet"
)

// TestFleetThreeProcesses runs three Caddy processes on one shared
// file_system storage folder, one with a weaker config, and a webhook
// receiver that counts: every view is the same; the drift is alerted
// exactly once; a kill -9 is alerted stale exactly once, by a survivor,
// and the restart recovered exactly once; an instance whose storage turns
// read-only reports its own write failure and is called stale by the
// others only after the threshold (3 intervals of 1s).
func TestFleetThreeProcesses(t *testing.T) {
	bin := buildCaddy(t)
	base := fleetBase(t)
	tmp := t.TempDir()
	shared := filepath.Join(tmp, "shared")
	hook := newFleetHook(t, base+1, "fleet-test-secret")
	nsOK, nsWhy := canMountNamespace()

	procs := []*fleetProc{
		{name: "a", adminPort: base + 10, httpsPort: base + 20, config: fleetConfig(shared, hook.url, false)},
		{name: "b", adminPort: base + 11, httpsPort: base + 21, config: fleetConfig(shared, hook.url, false), namespace: nsOK},
		{name: "weak", adminPort: base + 12, httpsPort: base + 22, config: fleetConfig(shared, hook.url, true)},
	}
	logFleetOnFailure(t, hook, procs)
	// One at a time: the first creates the local CA and the certificate in
	// the shared storage, the others load them. 90s: when a first obtain
	// fails, certmagic tries again after one minute (its retryIntervals);
	// under load one first attempt did fail here, once in 12 runs.
	for _, p := range procs {
		p.dir = filepath.Join(tmp, p.name)
		p.start(t, bin)
		waitFleet(t, 90*time.Second, p.name+" serves a certificate", func() (fleet.View, bool) {
			v, err := p.view()
			for _, iv := range v.Instances {
				if iv.ID == p.id && iv.Names > 0 {
					return v, err == nil
				}
			}
			return v, false
		})
	}
	b, weak := procs[1], procs[2]

	// 1. The same view everywhere, with the weak instance's drift.
	views := sameViews(t, procs, "3 alive instances with the weak one's drift", func(v fleet.View) bool {
		kinds := driftKinds(v)
		return v.Summary.Alive == 3 && slices.Contains(kinds, "config") && slices.Contains(kinds, "mode") && slices.Contains(kinds, "tls_settings")
	})
	for _, d := range views[0].Drift {
		if d.Kind == "config" || d.Kind == "mode" || d.Kind == "tls_settings" {
			last := d.Groups[len(d.Groups)-1]
			if len(d.Groups) != 2 || !slices.Equal(last.Instances, []string{weak.id}) {
				t.Errorf("drift %s/%s groups %+v; want the weak instance alone against the other two", d.Kind, d.Subject, d.Groups)
			}
		}
	}
	t.Logf("view: %s", shape(views[0]))
	drift := waitFleet(t, 30*time.Second, "a fleet_drift alert", func() ([]fleet.Alert, bool) {
		al := hook.byEvent(t, fleet.EventDrift)
		return al, len(al) > 0
	})
	waitRounds(t, procs, 5)
	if got := hook.byEvent(t, fleet.EventDrift); len(got) != 1 {
		t.Fatalf("%d fleet_drift alerts; want exactly 1:\n%s", len(got), hook.summary())
	}
	for _, it := range drift[0].Items {
		if !slices.Contains(it.Instances, weak.id) {
			t.Errorf("drift item %s does not name the weak instance", it.Key)
		}
	}

	// 2. kill -9 the instance that sends the alerts: one stale alert, from
	// a survivor.
	alerter := views[0].Alerting.Alerter
	victim := procByID(t, procs, alerter)
	victim.kill()
	waitFleet(t, 30*time.Second, "a fleet_instance_stale alert", func() ([]fleet.Alert, bool) {
		al := hook.byEvent(t, fleet.EventInstanceStale)
		return al, len(al) > 0
	})
	survivors := without(procs, victim)
	waitRounds(t, survivors, 5) // time for a duplicate to arrive, if one were sent
	stale := hook.byEvent(t, fleet.EventInstanceStale)
	if len(stale) != 1 || stale[0].SentBy == victim.id || len(stale[0].Items) != 1 || stale[0].Items[0].Subject != victim.id {
		t.Fatalf("stale alerts %+v; want exactly one, about %s, from a survivor", stale, victim.id)
	}
	for _, p := range survivors {
		v, _ := p.view()
		if stateIn(v, victim.id) != fleet.StateStale {
			t.Errorf("%s sees the killed instance as %s; want stale", p.name, stateIn(v, victim.id))
		}
	}

	// 3. Restart it (same data directory, same instance ID): one recovery.
	victim.start(t, bin)
	waitFleet(t, 30*time.Second, "a fleet_instance_recovered alert", func() ([]fleet.Alert, bool) {
		al := hook.byEvent(t, fleet.EventInstanceRecovered)
		return al, len(al) > 0
	})
	sameViews(t, procs, "3 alive again", func(v fleet.View) bool { return v.Summary.Alive == 3 })
	waitRounds(t, procs, 5)
	if got := hook.byEvent(t, fleet.EventInstanceRecovered); len(got) != 1 || got[0].Items[0].Subject != victim.id {
		t.Fatalf("recovery alerts %+v; want exactly one about %s", got, victim.id)
	}
	if got := hook.byEvent(t, fleet.EventInstanceStale); len(got) != 1 {
		t.Fatalf("%d stale alerts after the restart; want still 1", len(got))
	}

	// The metrics say the same, and pass promtool's lint; the admin route
	// is read-only.
	checkFleetMetrics(t, procs[0])
	for method, want := range map[string]int{http.MethodHead: http.StatusOK, http.MethodPost: http.StatusMethodNotAllowed, http.MethodDelete: http.StatusMethodNotAllowed} {
		req, _ := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d/fleet/", procs[0].adminPort), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s /fleet/: %d; want %d", method, resp.StatusCode, want)
		}
	}

	// 4. The shared folder turns read-only for b alone.
	if !nsOK {
		t.Logf("SKIPPED read-only storage case: %s", nsWhy)
	} else {
		readOnlyStorage(t, procs, b, shared, hook)
	}
	t.Logf("alerts received:\n%s", hook.summary())
}

// readOnlyStorage bind-mounts the shared folder read-only inside b's
// mount namespace: b reports its own write failure, and the others call
// it stale only once stale_after (5) intervals have passed.
func readOnlyStorage(t *testing.T, procs []*fleetProc, b *fleetProc, shared string, hook *fleetHook) {
	staleBefore := len(hook.byEvent(t, fleet.EventInstanceStale))
	nsMount(t, b.cmd.Process.Pid, "mount", "--bind", "-o", "ro", shared, shared)
	readOnlyAt := time.Now()

	v := waitFleet(t, 30*time.Second, "b reports its own write failure", func() (fleet.View, bool) {
		v, err := b.view()
		return v, err == nil && !v.Storage.OK && strings.Contains(v.Storage.WriteError, "read-only")
	})
	t.Logf("b about itself: ok=%v write_error=%q", v.Storage.OK, v.Storage.WriteError)
	others := without(procs, b)
	for _, p := range others {
		v := waitFleet(t, 30*time.Second, p.name+" calls b stale", func() (fleet.View, bool) {
			v, err := p.view()
			return v, err == nil && stateIn(v, b.id) == fleet.StateStale
		})
		// The view judges states as of its last list (as_of): being stale
		// then needs 5 of b's 1s intervals since its last write, which was
		// no later than the mount.
		if age := v.AsOf.Sub(readOnlyAt); age < 2*time.Second {
			t.Errorf("%s called b stale %s after its storage turned read-only; want no sooner than the threshold", p.name, age)
		}
	}
	waitFleet(t, 30*time.Second, "a stale alert about b", func() ([]fleet.Alert, bool) {
		al := hook.byEvent(t, fleet.EventInstanceStale)
		return al, len(al) > staleBefore
	})
	if al := hook.byEvent(t, fleet.EventInstanceStale); al[len(al)-1].Items[0].Subject != b.id || al[len(al)-1].SentBy == b.id {
		t.Errorf("stale alert %+v; want one about b from another instance", al[len(al)-1])
	}

	nsMount(t, b.cmd.Process.Pid, "umount", shared)
	sameViews(t, procs, "b alive again", func(v fleet.View) bool { return v.Summary.Alive == 3 })
	waitFleet(t, 30*time.Second, "a recovery alert about b", func() ([]fleet.Alert, bool) {
		al := hook.byEvent(t, fleet.EventInstanceRecovered)
		return al, len(al) > 0 && al[len(al)-1].Items[0].Subject == b.id
	})
	waitRounds(t, procs, 5)
	if got := len(hook.byEvent(t, fleet.EventInstanceStale)); got != staleBefore+1 {
		t.Errorf("%d stale alerts; want %d (one for b)", got, staleBefore+1)
	}
}

// sameViews waits until every process's view passes cond and all views
// have the same shape.
func sameViews(t *testing.T, procs []*fleetProc, what string, cond func(fleet.View) bool) []fleet.View {
	t.Helper()
	return waitFleet(t, 60*time.Second, "the same view everywhere: "+what, func() ([]fleet.View, bool) {
		var views []fleet.View
		for _, p := range procs {
			v, err := p.view()
			if err != nil || !cond(v) {
				return views, false
			}
			if len(views) > 0 && shape(v) != shape(views[0]) {
				return append(views, v), false
			}
			views = append(views, v)
		}
		return views, true
	})
}

// waitRounds waits until every process has built n more views.
func waitRounds(t *testing.T, procs []*fleetProc, n int) {
	t.Helper()
	start := make([]time.Time, len(procs))
	for i, p := range procs {
		v, _ := p.view()
		start[i] = v.GeneratedAt
	}
	for i, p := range procs {
		waitFleet(t, time.Duration(n+20)*time.Second, p.name+" builds more views", func() (time.Time, bool) {
			v, err := p.view()
			return v.GeneratedAt, err == nil && v.GeneratedAt.Sub(start[i]) >= time.Duration(n)*time.Second
		})
	}
}

func procByID(t *testing.T, procs []*fleetProc, id string) *fleetProc {
	for _, p := range procs {
		if p.id == id {
			return p
		}
	}
	t.Fatalf("no process with instance ID %q", id)
	return nil
}

func without(procs []*fleetProc, x *fleetProc) []*fleetProc {
	var out []*fleetProc
	for _, p := range procs {
		if p != x {
			out = append(out, p)
		}
	}
	return out
}

// checkFleetMetrics scrapes one instance: the fleet gauges agree with its
// view, and promtool (when installed, as CI installs it) finds nothing to
// lint in the fleet_ families.
func checkFleetMetrics(t *testing.T, p *fleetProc) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", p.adminPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := parseMetrics(t, string(body))
	for _, want := range []struct {
		name   string
		labels labels
		value  float64
	}{
		{"fleet_instances", labels{"state": "alive"}, 3},
		{"fleet_drift_items", labels{"kind": "mode"}, 1},
		{"fleet_storage_healthy", nil, 1},
		{"fleet_alerting_mode", labels{"mode": "once_per_fleet"}, 1},
	} {
		if v, ok := m.value(want.name, want.labels); !ok || v != want.value {
			t.Errorf("/metrics: %s%v is %v (present %v), want %v", want.name, want.labels, v, ok, want.value)
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not installed: metrics lint skipped")
		return
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, _ := cmd.CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "fleet_") {
			t.Errorf("promtool check metrics: %s", line)
		}
	}
}
