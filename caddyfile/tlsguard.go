package caddyfile

import (
	"fmt"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/hardtls/caddy-hardtls/tlsguard"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("tlsguard", parseTLSGuard)
}

// parseTLSGuard sets up the tlsguard app from the global option. Syntax:
//
//	tlsguard [<profile>] {
//		profile       modern|intermediate|custom
//		mode          enforce|harden|audit
//		lint_interval <duration>
//		telemetry     [on|off]
//		require_hsts  [on|off]
//
//		# profile custom only:
//		protocol_min  tls1.2|tls1.3
//		ciphers       <cipher_suite...>
//		curves        <curve...>
//		max_certificate_lifetime <duration>
//	}
//
// ciphers and curves take Caddy's names (as in the tls directive) and may
// be given on several lines; the lists are joined. The parser maps tokens
// to the app's JSON fields; a value is checked by the tlsguard package's
// own rule (CheckProfile, CheckMode, CheckProtocolMin, CheckCipherSuites,
// CheckCurves), whose message the Caddyfile gives with the file and line
// added. Rules that need the whole config (lint_interval of at least 1s,
// custom settings exactly with profile custom) run when the config loads.
func parseTLSGuard(d *caddyfile.Dispenser, existing any) (any, error) {
	d.Next() // consume option name
	if existing != nil {
		return nil, d.Err("tlsguard: global option given twice; merge the blocks")
	}
	app := new(tlsguard.App)
	custom := new(tlsguard.CustomProfile)
	seen := subdirectives{}
	var customSet bool
	// Lines of the first ciphers and curves lines, where list errors
	// point.
	var suitesLine, curvesLine int

	if d.NextArg() {
		d.Prev()
		profile, err := checkedArg(d, tlsguard.CheckProfile)
		if err != nil {
			return nil, err
		}
		app.Profile = profile
		seen["profile"] = true
	}

	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		if name != "ciphers" && name != "curves" {
			if err := seen.once(d); err != nil {
				return nil, err
			}
		}
		switch name {
		case "profile":
			v, err := checkedArg(d, tlsguard.CheckProfile)
			if err != nil {
				return nil, err
			}
			app.Profile = v
		case "mode":
			v, err := checkedArg(d, tlsguard.CheckMode)
			if err != nil {
				return nil, err
			}
			app.Mode = tlsguard.Mode(v)
		case "lint_interval":
			dur, err := durationValue(d, "lint_interval")
			if err != nil {
				return nil, err
			}
			app.LintInterval = dur
		case "telemetry":
			on, err := onOff(d)
			if err != nil {
				return nil, err
			}
			app.Telemetry = &on
		case "require_hsts":
			on, err := onOff(d)
			if err != nil {
				return nil, err
			}
			app.RequireHSTS = on
		case "protocol_min":
			v, err := checkedArg(d, tlsguard.CheckProtocolMin)
			if err != nil {
				return nil, err
			}
			custom.ProtocolMin, customSet = v, true
		case "ciphers":
			suites := d.RemainingArgs()
			if len(suites) == 0 {
				return nil, d.ArgErr()
			}
			if suitesLine == 0 && tlsguard.CheckCipherSuites(suites) != nil {
				suitesLine = d.Line()
			}
			custom.CipherSuites, customSet = append(custom.CipherSuites, suites...), true
		case "curves":
			curves := d.RemainingArgs()
			if len(curves) == 0 {
				return nil, d.ArgErr()
			}
			if curvesLine == 0 && tlsguard.CheckCurves(curves) != nil {
				curvesLine = d.Line()
			}
			custom.Curves, customSet = append(custom.Curves, curves...), true
		case "max_certificate_lifetime":
			dur, err := durationValue(d, "custom.max_certificate_lifetime")
			if err != nil {
				return nil, err
			}
			custom.MaxCertificateLifetime, customSet = dur, true
		default:
			return nil, d.Errf("tlsguard: unrecognized subdirective %q", name)
		}
	}

	// Every bad name of the joined lists, at the first line holding one.
	if err := tlsguard.CheckCipherSuites(custom.CipherSuites); err != nil {
		return nil, errAtLine(d, suitesLine, err)
	}
	if err := tlsguard.CheckCurves(custom.Curves); err != nil {
		return nil, errAtLine(d, curvesLine, err)
	}
	if customSet {
		app.Custom = custom
	}

	return httpcaddyfile.App{
		Name:  "tlsguard",
		Value: caddyconfig.JSON(app, nil),
	}, nil
}

// checkedArg reads the one argument of the current subdirective and checks
// it with the module's rule.
func checkedArg(d *caddyfile.Dispenser, check func(string) error) (string, error) {
	v, err := oneArg(d)
	if err != nil {
		return "", err
	}
	if err := check(v); err != nil {
		return "", d.WrapErr(err)
	}
	return v, nil
}

// errAtLine reports a module's error at a line of the file, as the
// Dispenser would from that line.
func errAtLine(d *caddyfile.Dispenser, line int, err error) error {
	return fmt.Errorf("%w, at %s:%d", err, d.File(), line)
}
