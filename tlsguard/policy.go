package tlsguard

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddytls"
)

// The checks and the hardening of one TLS connection policy. Both read the
// policy's pre-built *tls.Config (what handshakes really get) and use the
// policy's JSON fields only to name what the user wrote.

// policySettings is what a policy's built tls.Config offers.
type policySettings struct {
	MinVersion, MaxVersion uint16
	// Suites are the TLS 1.2 suites, without the TLS_FALLBACK_SCSV
	// signalling value Caddy prepends.
	Suites     []uint16
	Curves     []tls.CurveID
	SecretsLog bool
	Drop       bool
}

// settingsOf reads the built config of cp; ok is false when there is none.
func settingsOf(cp *caddytls.ConnectionPolicy) (s policySettings, ok bool) {
	if cp.Drop {
		return policySettings{Drop: true}, true
	}
	cfg := cp.TLSConfig
	if cfg == nil {
		return s, false
	}
	s.MinVersion, s.MaxVersion = cfg.MinVersion, cfg.MaxVersion
	if s.MinVersion == 0 {
		s.MinVersion = tls.VersionTLS12 // crypto/tls's server default
	}
	if s.MaxVersion == 0 {
		s.MaxVersion = tls.VersionTLS13
	}
	_, s.Suites = splitSCSV(cfg.CipherSuites)
	s.Curves = slices.Clone(cfg.CurvePreferences)
	s.SecretsLog = cfg.KeyLogWriter != nil
	return s, true
}

// offersTLS12 reports whether the settings let TLS 1.2 (or lower) be
// negotiated, which is when the TLS 1.2 suites matter.
func (s policySettings) offersTLS12() bool {
	return !s.Drop && s.MinVersion <= tls.VersionTLS12 && s.MaxVersion >= tls.VersionTLS12
}

// offeredSuites lists every suite a handshake may use: the TLS 1.2 suites
// when TLS 1.2 is on, and Go's fixed TLS 1.3 suites when TLS 1.3 is on.
func (s policySettings) offeredSuites() []uint16 {
	var out []uint16
	if s.MaxVersion >= tls.VersionTLS13 {
		out = append(out, tls13Suites()...)
	}
	if s.MinVersion <= tls.VersionTLS12 {
		out = append(out, s.Suites...)
	}
	return out
}

// splitSCSV separates TLS_FALLBACK_SCSV, a signal and not a suite, from
// the real suites.
func splitSCSV(ids []uint16) (scsv bool, suites []uint16) {
	for _, id := range ids {
		if id == tls.TLS_FALLBACK_SCSV {
			scsv = true
			continue
		}
		suites = append(suites, id)
	}
	return scsv, suites
}

// PolicyReport is what one connection policy serves, after any hardening.
type PolicyReport struct {
	Index        int      `json:"index"`
	Drop         bool     `json:"drop,omitempty"`
	Versions     []string `json:"versions,omitempty"`
	CipherSuites []string `json:"cipher_suites,omitempty"`
	Curves       []string `json:"curves,omitempty"`
	// Changes lists what tlsguard changed in the built config: in harden
	// mode whatever fell short of the profile, in enforce mode the
	// settings left to Caddy's defaults where those fall short.
	Changes []Change `json:"changes,omitempty"`
}

// Change is one setting tlsguard changed in a built TLS config.
type Change struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

func (s policySettings) report(idx int) PolicyReport {
	r := PolicyReport{Index: idx, Drop: s.Drop}
	if s.Drop {
		return r
	}
	for _, v := range versionsBetween(s.MinVersion, s.MaxVersion) {
		r.Versions = append(r.Versions, versionName(v))
	}
	r.CipherSuites = suiteNames(s.offeredSuites())
	r.Curves = curveNames(s.Curves)
	return r
}

// checkPolicy lists what the policy offers that the profile does not
// allow. Each finding names the field, the value, what the profile wants
// and the fix.
func checkPolicy(p Profile, server string, idx int, cp *caddytls.ConnectionPolicy) Findings {
	s, ok := settingsOf(cp)
	at := func(f Finding) Finding {
		f.Server, f.Policy = server, intPtr(idx)
		return f
	}
	if !ok {
		return Findings{at(Finding{
			Severity: SeverityError, Code: "policy.unverifiable",
			Message: "the policy has no built TLS config, so tlsguard cannot tell what it serves",
			Fix:     "make sure the policy belongs to an http server that provisions it",
		})}
	}
	if s.Drop {
		return nil
	}
	var out Findings
	defaulted := func(userSet bool, v string) string {
		if userSet {
			return v
		}
		return v + " (Caddy's default)"
	}

	if s.MinVersion < p.MinVersion {
		out = append(out, at(Finding{
			Severity: SeverityError, Code: "policy.protocol_min.below_profile",
			Field: "protocol_min", Value: defaulted(cp.ProtocolMin != "", versionName(s.MinVersion)),
			Want:    versionName(p.MinVersion) + " or higher",
			Message: fmt.Sprintf("the policy accepts %s, below profile %s", versionName(s.MinVersion), p.Name),
			Fix: fmt.Sprintf("set protocol_min to %s (Caddyfile: tls { protocols %s }), or set tlsguard mode harden",
				versionName(p.MinVersion), versionName(p.MinVersion)),
		}))
	}
	if s.MaxVersion < p.MinVersion {
		out = append(out, at(Finding{
			Severity: SeverityError, Code: "policy.protocol_max.below_profile",
			Field: "protocol_max", Value: versionName(s.MaxVersion),
			Want:    versionName(p.MinVersion) + " or higher",
			Message: fmt.Sprintf("the policy offers no version profile %s allows", p.Name),
			Fix:     "remove protocol_max, or set it to tls1.3",
		}))
	}

	if s.offersTLS12() && p.allowsTLS12() {
		want := "only " + strings.Join(suiteNames(p.Suites), " ")
		for _, id := range s.Suites {
			name := tls.CipherSuiteName(id)
			fix := fmt.Sprintf("remove %s from cipher_suites (Caddyfile: tls { ciphers ... })", name)
			switch {
			case p.allowsSuite(id):
				continue
			case !suiteKnown(id):
				out = append(out, at(Finding{
					Severity: SeverityError, Code: "policy.cipher_suite.unknown",
					Field: "cipher_suites", Value: name, Want: want,
					Message: "tlsguard does not know this suite and cannot vouch for it", Fix: fix,
				}))
			case !suiteForwardSecret(id):
				out = append(out, at(Finding{
					Severity: SeverityError, Code: "policy.cipher_suite.no_forward_secrecy",
					Field: "cipher_suites", Value: name, Want: want,
					Message: "the suite " + suiteWeakness(id), Fix: fix,
				}))
			case !suiteAEAD(id):
				out = append(out, at(Finding{
					Severity: SeverityError, Code: "policy.cipher_suite.no_aead",
					Field: "cipher_suites", Value: name, Want: want,
					Message: "the suite " + suiteWeakness(id), Fix: fix,
				}))
			default:
				out = append(out, at(Finding{
					Severity: SeverityError, Code: "policy.cipher_suite.not_in_profile",
					Field: "cipher_suites", Value: name, Want: want,
					Message: fmt.Sprintf("the suite is not in profile %s", p.Name), Fix: fix,
				}))
			}
		}
	}

	out = append(out, checkCurves(p, s, cp, at)...)

	if s.SecretsLog {
		out = append(out, at(Finding{
			Severity: SeverityError, Code: "policy.insecure_secrets_log",
			Field: "insecure_secrets_log", Value: fmt.Sprintf("%q", cp.InsecureSecretsLog), Want: "no session key log",
			Message: "the policy writes every session's keys to a file, so anyone who reads it can decrypt recorded traffic",
			Fix:     "remove insecure_secrets_log (it is for debugging only)",
		}))
	}
	return out
}

// checkCurves flags unknown groups, groups outside the profile, and a list
// with none of the profile's groups.
func checkCurves(p Profile, s policySettings, cp *caddytls.ConnectionPolicy, at func(Finding) Finding) Findings {
	var out Findings
	list := strings.Join(curveNames(p.Curves), " ")
	want := "only " + list
	fix := func(name string) string {
		return fmt.Sprintf("remove %s from curves (Caddyfile: tls { curves ... })", name)
	}
	for _, id := range s.Curves {
		switch {
		case p.allowsCurve(id):
		case !knownCurve(id):
			out = append(out, at(Finding{
				Severity: SeverityError, Code: "policy.curve.unknown",
				Field: "curves", Value: curveName(id), Want: want,
				Message: "Go does not implement this group, so tlsguard cannot vouch for the policy", Fix: fix(curveName(id)),
			}))
		default:
			out = append(out, at(Finding{
				Severity: SeverityError, Code: "policy.curve.not_in_profile",
				Field: "curves", Value: curveName(id), Want: want,
				Message: fmt.Sprintf("the group is not in profile %s", p.Name), Fix: fix(curveName(id)),
			}))
		}
	}
	var missing []tls.CurveID
	for _, id := range p.Curves {
		if !slices.Contains(s.Curves, id) {
			missing = append(missing, id)
		}
	}
	value := strings.Join(curveNames(s.Curves), " ")
	if len(cp.Curves) == 0 {
		value += " (Caddy's default)"
	}
	if len(missing) == len(p.Curves) {
		return append(out, at(Finding{
			Severity: SeverityError, Code: "policy.curves.missing",
			Field: "curves", Value: value, Want: "at least one of " + list,
			Message: fmt.Sprintf("the policy offers none of profile %s's groups, so its clients cannot agree on a key exchange", p.Name),
			Fix:     "add x25519 and secp256r1 to curves",
		}))
	}
	if f, ok := checkPostQuantum(p, s, value); ok {
		out = append(out, at(f))
	}
	// The post-quantum group has its own finding.
	missing = slices.DeleteFunc(missing, func(id tls.CurveID) bool { return id == tls.X25519MLKEM768 })
	if len(missing) > 0 {
		out = append(out, at(Finding{
			Severity: SeverityInfo, Code: "policy.curves.incomplete",
			Field: "curves", Value: value, Want: "all of " + list,
			Message: fmt.Sprintf("the policy does not offer %s; clients that support only those cannot connect",
				strings.Join(curveNames(missing), ", ")),
			Fix: "add them to curves, or set tlsguard mode harden",
		}))
	}
	return out
}

// checkPostQuantum reports a policy that does not offer X25519MLKEM768,
// the hybrid of X25519 and ML-KEM-768 that Mozilla's guidelines 6.0 list
// first and that Go and Caddy offer by default: without it, a recorded
// session can be decrypted by whoever later breaks X25519 or the NIST
// curves with a quantum computer ("harvest now, decrypt later"). value is
// the policy's curves as the other curve findings show them.
func checkPostQuantum(p Profile, s policySettings, value string) (Finding, bool) {
	if slices.Contains(s.Curves, tls.X25519MLKEM768) {
		return Finding{}, false
	}
	f := Finding{
		Severity: SeverityWarning, Code: "policy.curves.no_post_quantum",
		Field: "curves", Value: value, Want: "x25519mlkem768 among the groups",
		Message: "the policy offers no post-quantum key exchange (X25519MLKEM768, first in Mozilla's guidelines 6.0), so recorded sessions can be decrypted once the classical groups fall to a quantum computer",
		Fix:     "add x25519mlkem768 to curves (Caddyfile: tls { curves x25519mlkem768 ... }), or remove curves to get Caddy's default, which has it",
	}
	if !p.allowsCurve(tls.X25519MLKEM768) {
		f.Want = "" // the custom profile does not ask for it
		f.Fix = "add x25519mlkem768 to the custom profile's curves and to the policy's curves"
	}
	return f, true
}

// applyProfile applies the profile to the policy's built config as mode
// says, and returns what it changed. Audit changes nothing. Enforce
// touches only the settings the user left to Caddy's defaults, and only
// where those defaults fall short of the profile: a policy that sets
// nothing, like the catch-all policy the Caddyfile adds, has nothing for
// the user to fix. Harden also narrows what the user set, where the user
// set nothing stricter: it raises the minimum version, keeps only the
// allowed TLS 1.2 suites and groups (the profile's own when none is left,
// or when the user chose none) and turns off the session key log.
func applyProfile(p Profile, cp *caddytls.ConnectionPolicy, mode Mode) []Change {
	cfg := cp.TLSConfig
	if !mode.patches() || cfg == nil || cp.Drop {
		return nil
	}
	s, _ := settingsOf(cp)
	var changes []Change

	if s.MinVersion < p.MinVersion && mode.patchesSetting(cp.ProtocolMin != "") {
		changes = append(changes, Change{"protocol_min", versionName(s.MinVersion), versionName(p.MinVersion)})
		cfg.MinVersion = p.MinVersion
	}
	if s.MaxVersion < p.MinVersion && mode.patchesSetting(cp.ProtocolMax != "") {
		changes = append(changes, Change{"protocol_max", versionName(s.MaxVersion), versionName(tls.VersionTLS13)})
		cfg.MaxVersion = tls.VersionTLS13
	}

	if p.allowsTLS12() && cfg.MinVersion <= tls.VersionTLS12 && mode.patchesSetting(len(cp.CipherSuites) > 0) {
		scsv, suites := splitSCSV(cfg.CipherSuites)
		kept := slices.DeleteFunc(slices.Clone(suites), func(id uint16) bool { return !p.allowsSuite(id) })
		if len(kept) == 0 {
			kept = slices.Clone(p.Suites)
		}
		if !slices.Equal(kept, suites) {
			changes = append(changes, Change{"cipher_suites", strings.Join(suiteNames(suites), " "), strings.Join(suiteNames(kept), " ")})
			if scsv {
				kept = append([]uint16{tls.TLS_FALLBACK_SCSV}, kept...)
			}
			cfg.CipherSuites = kept
		}
	}

	if userSet := len(cp.Curves) > 0; mode.patchesSetting(userSet) {
		kept := slices.DeleteFunc(slices.Clone(s.Curves), func(id tls.CurveID) bool { return !p.allowsCurve(id) })
		if len(kept) == 0 || (!mode.onlyUnset() && !userSet) {
			// Nothing usable, or harden on Caddy's default list: the
			// profile's list.
			kept = slices.Clone(p.Curves)
		}
		if !slices.Equal(kept, s.Curves) {
			changes = append(changes, Change{"curves", strings.Join(curveNames(s.Curves), " "), strings.Join(curveNames(kept), " ")})
			// A new slice: Caddy's default list is shared by every policy.
			cfg.CurvePreferences = kept
		}
	}

	// The key log is a file the user named: enforce refuses it, harden
	// turns it off.
	if cfg.KeyLogWriter != nil && mode.patchesSetting(true) {
		changes = append(changes, Change{"insecure_secrets_log", cp.InsecureSecretsLog, "(off)"})
		cfg.KeyLogWriter = nil
	}
	return changes
}
