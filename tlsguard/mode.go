package tlsguard

import (
	"strconv"

	"github.com/hardtls/caddy-hardtls/internal/strictjson"
)

// Mode says what tlsguard does with a connection policy that falls short
// of the profile. Its methods are the only place that says what each mode
// does; the rest of the package asks them.
type Mode string

// Modes.
const (
	// ModeEnforce refuses a config in which a setting the user made
	// violates the profile, and gives the settings left to Caddy's
	// defaults the profile's values where the defaults fall short.
	ModeEnforce Mode = "enforce"
	// ModeHarden applies the profile to the policies' built TLS configs,
	// narrowing what the user set too.
	ModeHarden Mode = "harden"
	// ModeAudit changes nothing and reports.
	ModeAudit Mode = "audit"
)

// CheckMode reports whether mode is a mode: enforce, harden or audit.
func CheckMode(mode string) error {
	switch Mode(mode) {
	case ModeEnforce, ModeHarden, ModeAudit:
		return nil
	}
	return &strictjson.FieldError{Field: "mode", Value: strconv.Quote(mode), Why: "is not a mode",
		Fix: "use enforce (refuse what falls short), harden (apply the profile) or audit (only report)"}
}

// refuses reports whether a config with error findings about its
// connection policies (or, with require_hsts, its sites) is refused.
func (m Mode) refuses() bool { return m == ModeEnforce }

// patches reports whether tlsguard changes the policies' built TLS
// configs at all.
func (m Mode) patches() bool { return m == ModeEnforce || m == ModeHarden }

// onlyUnset reports whether the patches are limited to the settings the
// user left to Caddy's defaults: in enforce mode a setting the user made
// is the user's to fix (the config is refused), never silently replaced.
func (m Mode) onlyUnset() bool { return m == ModeEnforce }

// patchesSetting reports whether tlsguard may change one setting of a
// built TLS config; userSet says whether the policy's JSON sets it.
func (m Mode) patchesSetting(userSet bool) bool {
	return m.patches() && (!userSet || !m.onlyUnset())
}
