package caddyfile

import (
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddytls"

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
//
//		# profile custom only:
//		protocol_min  tls1.2|tls1.3
//		ciphers       <cipher_suite...>
//		curves        <curve...>
//		max_certificate_lifetime <duration>
//	}
//
// ciphers and curves take Caddy's names (as in the tls directive) and may
// be given on several lines; the lists are joined.
func parseTLSGuard(d *caddyfile.Dispenser, existing any) (any, error) {
	d.Next() // consume option name
	if existing != nil {
		return nil, d.Err("tlsguard: global option given twice; merge the blocks")
	}
	app := new(tlsguard.App)
	custom := new(tlsguard.CustomProfile)
	seen := subdirectives{}
	customLine := map[string]int{}

	if d.NextArg() {
		d.Prev()
		profile, err := oneOf(d, "profile", tlsguard.ProfileModern, tlsguard.ProfileIntermediate, tlsguard.ProfileCustom)
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
			v, err := oneOf(d, name, tlsguard.ProfileModern, tlsguard.ProfileIntermediate, tlsguard.ProfileCustom)
			if err != nil {
				return nil, err
			}
			app.Profile = v
		case "mode":
			v, err := oneOf(d, name, tlsguard.ModeEnforce, tlsguard.ModeHarden, tlsguard.ModeAudit)
			if err != nil {
				return nil, err
			}
			app.Mode = v
		case "lint_interval":
			dur, err := durationArg(d, "tlsguard")
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
		case "protocol_min":
			v, err := oneOf(d, name, "tls1.2", "tls1.3")
			if err != nil {
				return nil, err
			}
			custom.ProtocolMin = v
			customLine[name] = d.Line()
		case "ciphers":
			suites := d.RemainingArgs()
			if len(suites) == 0 {
				return nil, d.ArgErr()
			}
			for _, s := range suites {
				if caddytls.CipherSuiteID(s) == 0 {
					return nil, d.Errf("tlsguard ciphers: %q is not a cipher suite Caddy accepts; use Go names such as TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", s)
				}
			}
			custom.CipherSuites = append(custom.CipherSuites, suites...)
			customLine[name] = d.Line()
		case "curves":
			curves := d.RemainingArgs()
			if len(curves) == 0 {
				return nil, d.ArgErr()
			}
			for _, c := range curves {
				if _, ok := caddytls.SupportedCurves[c]; !ok {
					return nil, d.Errf("tlsguard curves: %q is not a curve Caddy supports; use x25519mlkem768, x25519, secp256r1, secp384r1 or secp521r1", c)
				}
			}
			custom.Curves = append(custom.Curves, curves...)
			customLine[name] = d.Line()
		case "max_certificate_lifetime":
			dur, err := durationArg(d, "tlsguard")
			if err != nil {
				return nil, err
			}
			custom.MaxCertificateLifetime = dur
			customLine[name] = d.Line()
		default:
			return nil, d.Errf("tlsguard: unrecognized subdirective %q", name)
		}
	}

	if len(customLine) > 0 {
		if app.Profile != tlsguard.ProfileCustom {
			names := make([]string, 0, len(customLine))
			for n := range customLine {
				names = append(names, n)
			}
			slices.Sort(names)
			return nil, d.Errf("tlsguard: %s only apply to profile custom (line %d); set profile custom or remove them",
				strings.Join(names, ", "), customLine[names[0]])
		}
		app.Custom = custom
	} else if app.Profile == tlsguard.ProfileCustom {
		return nil, d.Err("tlsguard: profile custom needs protocol_min, ciphers (with tls1.2) and curves in the tlsguard block")
	}

	return httpcaddyfile.App{
		Name:  "tlsguard",
		Value: caddyconfig.JSON(app, nil),
	}, nil
}

// oneOf reads one argument that must be one of the allowed values.
func oneOf(d *caddyfile.Dispenser, name string, allowed ...string) (string, error) {
	v, err := oneArg(d)
	if err != nil {
		return "", err
	}
	if !slices.Contains(allowed, v) {
		return "", d.Errf("tlsguard %s: %q is not one of %s", name, v, strings.Join(allowed, ", "))
	}
	return v, nil
}
