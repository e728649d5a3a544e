package fleet

import (
	"context"
	"encoding/json"
	"time"
)

// A Source yields what this instance serves, for the record it writes to
// the shared storage every interval. The Caddy source (source_caddy.go)
// reads it from the running config; tests pass their own.
type Source interface {
	// Facts returns this instance's facts now. It is called once per
	// interval from the fleet loop and must not block for long.
	Facts(ctx context.Context) (Facts, error)
}

// Facts are what one instance serves and runs. They never hold key
// material: certificate digests are of public data.
type Facts struct {
	// Hostname is the host's name as the kernel reports it.
	Hostname string `json:"hostname,omitempty"`
	// CaddyVersion and HardtlsVersion are the versions of the running
	// binary's Caddy and hardtls modules.
	CaddyVersion   string `json:"caddy_version,omitempty"`
	HardtlsVersion string `json:"hardtls_version,omitempty"`
	// ConfigHash is the hex SHA-256 of the running config's JSON; empty
	// when it is not known (see docs/fleet.md).
	ConfigHash string `json:"config_hash,omitempty"`
	// Profile and Mode are tlsguard's profile and mode; empty without a
	// tlsguard app.
	Profile string `json:"profile,omitempty"`
	Mode    string `json:"mode,omitempty"`
	// Sites are the HTTPS sites with their effective TLS settings, grade
	// and HSTS, sorted by host.
	Sites []Site `json:"sites,omitempty"`
	// Names are the served names with the leaf each one is served with,
	// sorted by name.
	Names []Name `json:"names,omitempty"`
}

// Site is one HTTPS site as tlsguard sees it.
type Site struct {
	Host string `json:"host"`
	// TLS is a canonical summary of the effective settings of the
	// connection policy the site's handshakes select: versions, cipher
	// suites and curves, e.g. "tls1.2,tls1.3|TLS_AES_128_GCM_SHA256,...|x25519,...".
	// Empty when no policy selects the site.
	TLS string `json:"tls,omitempty"`
	// Grade is the site's SSL Labs-style grade; empty while pending.
	Grade string `json:"grade,omitempty"`
	// HSTS is the Strict-Transport-Security value the site sends; empty
	// when no hsts handler or header covers it.
	HSTS string `json:"hsts,omitempty"`
}

// Name is one served name and the leaf certificate that serves it.
type Name struct {
	Name string `json:"name"`
	// SHA256 is the hex SHA-256 of the leaf's DER.
	SHA256 string `json:"sha256"`
	// SPKI is the leaf pin, base64(sha256(SubjectPublicKeyInfo)).
	SPKI     string    `json:"spki"`
	NotAfter time.Time `json:"not_after"`
}

// recordVersion is the version of the record format, also in the storage
// prefix: a record of another version is skipped with a warning.
const recordVersion = 1

// Record is what an instance stores under its key every interval. Its
// Facts hold the instance's facts and the fleet's own ones (InstanceFacts);
// their SHA-256 is in the key, so that readers load a record only when it
// changed.
type Record struct {
	Version   int       `json:"v"`
	Instance  string    `json:"instance"`
	WrittenAt time.Time `json:"written_at"`
	// Facts is the JSON of InstanceFacts, kept raw so that its hash can be
	// checked against the key byte for byte.
	Facts json.RawMessage `json:"facts"`
}

// InstanceFacts are an instance's Facts plus what the fleet app itself
// knows about the instance.
type InstanceFacts struct {
	Facts
	// Started is when the instance's fleet observer started.
	Started time.Time `json:"started"`
	// Interval is the instance's write interval; readers measure its
	// missed intervals with it.
	Interval time.Duration `json:"interval_ns"`
	// Ready is true once the instance has watched the fleet for its own
	// stale threshold: only ready instances count for drift and may send
	// alerts, so a new instance's first, partial view never alerts.
	Ready bool `json:"ready,omitempty"`
	// StorageError is set while the instance cannot list the storage; such
	// an instance does not send alerts.
	StorageError string `json:"storage_error,omitempty"`
	// Stopped is set in the last record of an instance that stopped (not
	// one that reloaded its config): it left the fleet and is not stale.
	Stopped bool `json:"stopped,omitempty"`
	// FactsError is set when the Source failed; the facts are then those
	// of the last success, or empty.
	FactsError string `json:"facts_error,omitempty"`
}
