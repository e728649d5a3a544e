package fleet

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"time"
)

// Instance states.
const (
	StateAlive = "alive"
	StateStale = "stale"
	StateGone  = "gone"
	// StateLeft is an instance that stopped (not reloaded) and said so in
	// its last record: it is not stale, just no longer in the fleet.
	StateLeft = "left"
)

var states = []string{StateAlive, StateStale, StateGone, StateLeft}

// Drift kinds.
const (
	DriftConfig      = "config"       // different config hash
	DriftProfile     = "profile"      // different tlsguard profile
	DriftMode        = "mode"         // different tlsguard mode
	DriftTLSSettings = "tls_settings" // a site's effective TLS settings differ
	DriftGrade       = "grade"        // a site's grade differs
	DriftHSTS        = "hsts"         // a site's HSTS differs (or is missing)
	DriftLeaf        = "leaf"         // a name is served with different leaves
	DriftClock       = "clock"        // an instance's clock is off
)

var driftKinds = []string{DriftConfig, DriftProfile, DriftMode, DriftTLSSettings, DriftGrade, DriftHSTS, DriftLeaf, DriftClock}

// View is the fleet as one instance sees it: GET /fleet/ returns it. Built
// from the shared records only, it is the same on every instance up to
// the moment each one last listed the storage; the Storage and Alerting
// sections are about the instance that answers.
type View struct {
	// Instance is the ID of the instance that answers.
	Instance    string    `json:"instance"`
	GeneratedAt time.Time `json:"generated_at"`
	// AsOf is when this instance last listed the storage successfully;
	// states are judged as of then, so a failing storage freezes the view
	// instead of aging everybody else into stale.
	AsOf      time.Time      `json:"as_of,omitzero"`
	Storage   StorageStatus  `json:"storage"`
	Alerting  AlertingStatus `json:"alerting"`
	Summary   Summary        `json:"summary"`
	Instances []InstanceView `json:"instances"`
	Drift     []DriftItem    `json:"drift"`
}

// StorageStatus is this instance's own use of the storage.
type StorageStatus struct {
	// OK is false while writing or listing fails.
	OK bool `json:"ok"`
	health
}

// AlertingStatus says who sends the fleet's alerts and how.
type AlertingStatus struct {
	// Mode is "once_per_fleet" when the storage's locks exclude,
	// "reporting_only" when they do not (Reason says why), and "pending"
	// until that is known.
	Mode   string `json:"mode"`
	Reason string `json:"reason,omitempty"`
	// Alerter is the instance that sends the alerts now: the longest
	// running ready, alive instance; empty when none is.
	Alerter string `json:"alerter,omitempty"`
}

// Summary counts the instances by state and the drift items.
type Summary struct {
	Alive int `json:"alive"`
	Stale int `json:"stale"`
	Gone  int `json:"gone"`
	Left  int `json:"left"`
	Drift int `json:"drift"`
}

// InstanceView is one instance in the view.
type InstanceView struct {
	ID    string `json:"id"`
	State string `json:"state"`
	// MissedIntervals counts the instance's intervals since its record
	// last changed.
	MissedIntervals int `json:"missed_intervals"`
	// LastSeen is when this instance saw the record change (its own
	// clock); WrittenAt is the record's time (the writer's clock).
	LastSeen  time.Time `json:"last_seen"`
	WrittenAt time.Time `json:"written_at"`
	// ClockOffset is the estimated offset of the instance's clock from the
	// fleet's median, e.g. "+2m5s"; empty until measured.
	ClockOffset    string    `json:"clock_offset,omitempty"`
	Hostname       string    `json:"hostname,omitempty"`
	CaddyVersion   string    `json:"caddy_version,omitempty"`
	HardtlsVersion string    `json:"hardtls_version,omitempty"`
	ConfigHash     string    `json:"config_hash,omitempty"`
	Profile        string    `json:"profile,omitempty"`
	Mode           string    `json:"mode,omitempty"`
	Sites          int       `json:"sites"`
	Names          int       `json:"names"`
	Started        time.Time `json:"started,omitzero"`
	Interval       string    `json:"interval,omitempty"`
	Ready          bool      `json:"ready"`
	StorageError   string    `json:"storage_error,omitempty"`
	FactsError     string    `json:"facts_error,omitempty"`
	// RecordError says why the instance's newest record could not be
	// read; its facts are then the last ones read, or none.
	RecordError string `json:"record_error,omitempty"`
}

// DriftItem is one thing the instances disagree on.
type DriftItem struct {
	Kind string `json:"kind"`
	// Subject is the site host, the served name or the instance the item
	// is about; empty for fleet-wide kinds (config, profile, mode).
	Subject string `json:"subject,omitempty"`
	// Groups are the values seen, each with the instances that have it,
	// the largest group first.
	Groups []DriftGroup `json:"groups"`
}

// key identifies a drift item across views.
func (d DriftItem) key() string { return "drift/" + d.Kind + "/" + d.Subject }

// DriftGroup is one value of a drift item and who has it.
type DriftGroup struct {
	Value     string   `json:"value"`
	Instances []string `json:"instances"`
}

// thresholds are the view's judgement rules.
type thresholds struct {
	interval       time.Duration // for instances whose interval is not known
	staleAfter     int
	goneAfter      int
	clockTolerance time.Duration
}

// buildView judges every instance and finds the drift, as of the last
// successful list.
func buildView(obs observation, th thresholds, now time.Time) View {
	v := View{
		Instance:    obs.self,
		GeneratedAt: now,
		AsOf:        obs.asOf,
		Storage:     StorageStatus{OK: obs.health.WriteError == "" && obs.health.ListError == "", health: obs.health},
		Instances:   make([]InstanceView, 0, len(obs.peers)),
		Drift:       []DriftItem{},
	}
	alive := make(map[string]bool)
	for _, p := range obs.peers {
		iv := judge(p, th, obs.asOf)
		alive[p.id] = iv.State == StateAlive
		v.Instances = append(v.Instances, iv)
	}
	offsets := clockOffsets(obs, alive)
	var members []member
	for i, p := range obs.peers {
		iv := &v.Instances[i]
		if off, ok := offsets[p.id]; ok {
			iv.ClockOffset = formatOffset(off)
		}
		switch iv.State {
		case StateAlive:
			v.Summary.Alive++
		case StateStale:
			v.Summary.Stale++
		case StateGone:
			v.Summary.Gone++
		case StateLeft:
			v.Summary.Left++
		}
		if (iv.State == StateAlive || iv.State == StateStale) && p.facts != nil && p.facts.Ready {
			members = append(members, member{id: p.id, facts: p.facts})
		}
	}
	v.Drift = findDrift(members)
	for id, off := range offsets {
		if off > th.clockTolerance || off < -th.clockTolerance {
			v.Drift = append(v.Drift, DriftItem{Kind: DriftClock, Subject: id,
				Groups: []DriftGroup{{Value: formatOffset(off), Instances: []string{id}}}})
		}
	}
	sortDrift(v.Drift)
	v.Summary.Drift = len(v.Drift)
	v.Alerting.Alerter = chooseAlerter(obs.peers, v.Instances)
	return v
}

// judge turns a peer into its view entry with its state.
func judge(p peer, th thresholds, asOf time.Time) InstanceView {
	iv := InstanceView{ID: p.id, LastSeen: p.lastChange, WrittenAt: p.key.written.UTC(), RecordError: p.recordErr}
	interval := th.interval
	if f := p.facts; f != nil {
		if f.Interval > 0 {
			interval = f.Interval
		}
		iv.Hostname, iv.CaddyVersion, iv.HardtlsVersion = f.Hostname, f.CaddyVersion, f.HardtlsVersion
		iv.ConfigHash, iv.Profile, iv.Mode = f.ConfigHash, f.Profile, f.Mode
		iv.Sites, iv.Names = len(f.Sites), len(f.Names)
		iv.Started, iv.Ready = f.Started, f.Ready
		iv.StorageError, iv.FactsError = f.StorageError, f.FactsError
		iv.Interval = interval.String()
	}
	age := asOf.Sub(p.lastChange)
	if age < 0 {
		age = 0
	}
	iv.MissedIntervals = int(age / interval)
	switch {
	case p.facts != nil && p.facts.Stopped:
		iv.State = StateLeft
	case iv.MissedIntervals >= th.goneAfter:
		iv.State = StateGone
	case iv.MissedIntervals >= th.staleAfter:
		iv.State = StateStale
	default:
		iv.State = StateAlive
	}
	return iv
}

// clockOffsets returns, for every alive instance whose clock has been
// estimated, its offset from the median of those estimates (this
// instance's own offset is zero by definition). Measuring from the median
// instead of from the reader makes every instance name the same one: a
// reader whose own clock is off finds itself off, not everyone else. With
// an even count the lower median is used, so of two instances the one
// ahead is named.
func clockOffsets(obs observation, alive map[string]bool) map[string]time.Duration {
	raw := make(map[string]time.Duration)
	for _, p := range obs.peers {
		switch {
		case !alive[p.id]:
		case p.id == obs.self:
			raw[p.id] = 0
		case p.clockKnown:
			raw[p.id] = p.clock
		}
	}
	if len(raw) < 2 {
		return nil
	}
	vals := make([]time.Duration, 0, len(raw))
	for _, d := range raw {
		vals = append(vals, d)
	}
	slices.Sort(vals)
	median := vals[(len(vals)-1)/2]
	for id, d := range raw {
		raw[id] = d - median
	}
	return raw
}

func formatOffset(d time.Duration) string {
	d = d.Round(time.Second)
	if d >= 0 {
		return "+" + d.String()
	}
	return d.String()
}

// member is an instance whose facts count for drift: not gone, ready.
type member struct {
	id    string
	facts *InstanceFacts
}

// findDrift compares the members' facts.
func findDrift(members []member) []DriftItem {
	var out []DriftItem
	if len(members) < 2 {
		return out
	}
	fleetWide := func(kind string, value func(*InstanceFacts) string) {
		groups := map[string][]string{}
		for _, m := range members {
			if v := value(m.facts); v != "" {
				groups[v] = append(groups[v], m.id)
			}
		}
		if len(groups) > 1 {
			out = append(out, DriftItem{Kind: kind, Groups: sortGroups(groups)})
		}
	}
	orNone := func(s string) string { return cmp.Or(s, "(none)") }
	fleetWide(DriftConfig, func(f *InstanceFacts) string { return f.ConfigHash })
	fleetWide(DriftProfile, func(f *InstanceFacts) string { return orNone(f.Profile) })
	fleetWide(DriftMode, func(f *InstanceFacts) string { return orNone(f.Mode) })

	// Per subject: kind -> subject -> value -> instances.
	per := map[string]map[string]map[string][]string{}
	add := func(kind, subject, value, id string) {
		if value == "" {
			return // not known on this instance (a pending grade)
		}
		if per[kind] == nil {
			per[kind] = map[string]map[string][]string{}
		}
		if per[kind][subject] == nil {
			per[kind][subject] = map[string][]string{}
		}
		per[kind][subject][value] = append(per[kind][subject][value], id)
	}
	for _, m := range members {
		for _, s := range m.facts.Sites {
			add(DriftTLSSettings, s.Host, orNone(s.TLS), m.id)
			add(DriftGrade, s.Host, s.Grade, m.id)
			add(DriftHSTS, s.Host, orNone(s.HSTS), m.id)
		}
		for _, n := range m.facts.Names {
			add(DriftLeaf, n.Name, n.SHA256, m.id)
		}
	}
	for kind, subjects := range per {
		for subject, groups := range subjects {
			if len(groups) > 1 {
				out = append(out, DriftItem{Kind: kind, Subject: subject, Groups: sortGroups(groups)})
			}
		}
	}
	return out
}

// sortGroups orders a drift item's groups, largest first.
func sortGroups(groups map[string][]string) []DriftGroup {
	out := make([]DriftGroup, 0, len(groups))
	for v, ids := range groups {
		slices.Sort(ids)
		out = append(out, DriftGroup{Value: v, Instances: ids})
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i].Instances) != len(out[j].Instances) {
			return len(out[i].Instances) > len(out[j].Instances)
		}
		return out[i].Value < out[j].Value
	})
	return out
}

func sortDrift(items []DriftItem) {
	rank := func(kind string) int { return slices.Index(driftKinds, kind) }
	sort.Slice(items, func(i, j int) bool {
		if items[i].Kind != items[j].Kind {
			return rank(items[i].Kind) < rank(items[j].Kind)
		}
		return items[i].Subject < items[j].Subject
	})
}

// chooseAlerter picks the instance that sends the fleet's alerts: among
// alive, ready instances that can list the storage, the one running
// longest, then the lowest ID. Every instance computes the same choice
// from the same records; the storage lock and the alert record (alert.go)
// keep the alerts single while two instances disagree for a moment.
func chooseAlerter(peers []peer, views []InstanceView) string {
	best := -1
	for i, p := range peers {
		f := p.facts
		if views[i].State != StateAlive || f == nil || !f.Ready || f.StorageError != "" {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		b := peers[best].facts
		if f.Started.Before(b.Started) || (f.Started.Equal(b.Started) && p.id < peers[best].id) {
			best = i
		}
	}
	if best < 0 {
		return ""
	}
	return peers[best].id
}

// describe is a one-line text of a drift item for logs and alerts.
func (d DriftItem) describe() string {
	s := d.Kind
	if d.Subject != "" {
		s += " " + d.Subject
	}
	for i, g := range d.Groups {
		sep := ": "
		if i > 0 {
			sep = " vs "
		}
		s += fmt.Sprintf("%s%s on %d instance(s)", sep, shorten(g.Value), len(g.Instances))
	}
	return s
}

func shorten(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}
