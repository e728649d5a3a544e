package caddyfile

import (
	"fmt"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/hardtls/caddy-hardtls/internal/strictjson"
	"github.com/hardtls/caddy-hardtls/internal/webhook"
	"github.com/hardtls/caddy-hardtls/pinreport"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("pinreport", parsePinReport)
}

// parsePinReport sets up the pinreport app from the global option. Syntax:
//
//	pinreport {
//		scan_interval   <duration>
//		pin             <host> <pin...>
//		warning_before  <duration>
//		critical_before <duration>
//		renewal_grace   <duration>
//		certificate_metrics all|warning|none
//		revocation off
//		revocation {
//			interval <duration>
//			timeout  <duration>
//			max_size <bytes>
//			crl spki    <issuer pin>  <url>
//			crl subject <issuer name> <url>
//		}
//		webhook <url> {
//			secret       <secret>
//			timeout      <duration>
//			retries      <count>
//			backoff      <duration>
//			min_severity info|warning|critical
//		}
//	}
//
// A bare "pinreport" turns the app on with its defaults. pin may be given
// for several hosts, and several times for one host; the pins are joined.
// Values are checked by the pinreport package's own rules (ParsePin,
// CheckMinSeverity, CheckCertificateMetrics, CheckIssuerCRL) and the
// webhook's (internal/webhook: CheckURL, CheckRetries), so a Caddyfile and its JSON get
// the same message, here with the file and line; ranges of durations are
// checked when the config loads. crl may be repeated.
func parsePinReport(d *caddyfile.Dispenser, existing any) (any, error) {
	d.Next() // consume option name
	if existing != nil {
		return nil, d.Err("pinreport: global option given twice; keep one block")
	}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	app := new(pinreport.App)
	seen := subdirectives{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if d.Val() != "pin" {
			if err := seen.once(d); err != nil {
				return nil, err
			}
		}
		switch d.Val() {
		case "scan_interval":
			if err := durationInto(d, "", &app.ScanInterval); err != nil {
				return nil, err
			}
		case "warning_before":
			if err := durationInto(d, "", &app.WarningBefore); err != nil {
				return nil, err
			}
		case "critical_before":
			if err := durationInto(d, "", &app.CriticalBefore); err != nil {
				return nil, err
			}
		case "renewal_grace":
			if err := durationInto(d, "", &app.RenewalGrace); err != nil {
				return nil, err
			}
		case "certificate_metrics":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			if err := pinreport.CheckCertificateMetrics(v); err != nil {
				return nil, d.WrapErr(err)
			}
			app.CertificateMetrics = v
		case "pin":
			// A host without pins is mapped as such: the module
			// says how many it needs.
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.ArgErr()
			}
			// Named as in the JSON: the pins of one host join across lines.
			for i, p := range args[1:] {
				if _, err := pinreport.ParsePin(p); err != nil {
					return nil, d.WrapErr(strictjson.InField(fmt.Sprintf("pins[%q][%d]", args[0], len(app.Pins[args[0]])+i), err))
				}
			}
			if app.Pins == nil {
				app.Pins = make(map[string][]string)
			}
			app.Pins[args[0]] = append(app.Pins[args[0]], args[1:]...)
		case "revocation":
			rev, err := parseRevocation(d)
			if err != nil {
				return nil, err
			}
			app.Revocation = rev
		case "webhook":
			hook, err := parseWebhook(d)
			if err != nil {
				return nil, err
			}
			app.Webhook = hook
		default:
			return nil, d.Errf("pinreport: unrecognized subdirective %q", d.Val())
		}
	}
	return httpcaddyfile.App{Name: "pinreport", Value: caddyconfig.JSON(app, nil)}, nil
}

// durationInto reads the duration argument of the current subdirective,
// whose name is its JSON field's, into dst; prefix is the JSON path of the
// enclosing object ("webhook.").
func durationInto(d *caddyfile.Dispenser, prefix string, dst *caddy.Duration) error {
	v, err := durationValue(d, prefix+d.Val())
	if err == nil {
		*dst = v
	}
	return err
}

// webhookURL reads the URL of a webhook subdirective of app (pinreport
// or fleet), checked by the rule the module applies (webhook.CheckURL),
// here with the file and line.
func webhookURL(d *caddyfile.Dispenser, app string) (string, error) {
	url, err := oneArg(d)
	if err != nil {
		return "", d.Errf("%s webhook: want one URL, e.g. webhook https://alerts.example.com/hook", app)
	}
	if err := webhook.CheckURL(url); err != nil {
		return "", d.WrapErr(strictjson.InField("webhook", err))
	}
	return url, nil
}

// parseWebhook reads the webhook subdirective and its block.
func parseWebhook(d *caddyfile.Dispenser) (*pinreport.Webhook, error) {
	url, err := webhookURL(d, "pinreport")
	if err != nil {
		return nil, err
	}
	hook := &pinreport.Webhook{URL: url}
	seen := subdirectives{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := seen.once(d); err != nil {
			return nil, err
		}
		switch d.Val() {
		case "secret":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			hook.Secret = v
		case "timeout":
			if err := durationInto(d, "webhook.", &hook.Timeout); err != nil {
				return nil, err
			}
		case "retries":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, d.Errf("pinreport webhook: retries %q is not a whole number", v)
			}
			if err := webhook.CheckRetries(n); err != nil {
				return nil, d.WrapErr(strictjson.InField("webhook", err))
			}
			hook.Retries = &n
		case "backoff":
			if err := durationInto(d, "webhook.", &hook.Backoff); err != nil {
				return nil, err
			}
		case "min_severity":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			if err := pinreport.CheckMinSeverity(v); err != nil {
				return nil, d.WrapErr(strictjson.InField("webhook", err))
			}
			hook.MinSeverity = v
		default:
			return nil, d.Errf("pinreport webhook: unrecognized subdirective %q", d.Val())
		}
	}
	return hook, nil
}

// parseRevocation reads the revocation subdirective: "off", or a block.
func parseRevocation(d *caddyfile.Dispenser) (*pinreport.Revocation, error) {
	rev := new(pinreport.Revocation)
	if d.NextArg() {
		if d.Val() != "off" || d.NextArg() {
			return nil, d.Errf("pinreport revocation: want off, or a block of interval, timeout, max_size and crl")
		}
		rev.Disabled = true
		return rev, nil
	}
	seen := subdirectives{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if d.Val() != "crl" {
			if err := seen.once(d); err != nil {
				return nil, err
			}
		}
		switch d.Val() {
		case "interval":
			if err := durationInto(d, "revocation.", &rev.Interval); err != nil {
				return nil, err
			}
		case "timeout":
			if err := durationInto(d, "revocation.", &rev.Timeout); err != nil {
				return nil, err
			}
		case "max_size":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, d.Errf("pinreport revocation: max_size %q is not a size in bytes, e.g. 10485760", v)
			}
			rev.MaxSize = n
		case "crl":
			args := d.RemainingArgs()
			if len(args) != 3 || (args[0] != "spki" && args[0] != "subject") {
				return nil, d.Errf("pinreport revocation: want crl spki <issuer pin> <url> or crl subject <issuer name> <url>")
			}
			m := pinreport.IssuerCRL{URL: args[2]}
			if args[0] == "spki" {
				m.IssuerSPKI = args[1]
			} else {
				m.IssuerSubject = args[1]
			}
			if err := pinreport.CheckIssuerCRL(m); err != nil {
				return nil, d.WrapErr(strictjson.Within("revocation", strictjson.Within(fmt.Sprintf("issuer_crls[%d]", len(rev.IssuerCRLs)), err)))
			}
			rev.IssuerCRLs = append(rev.IssuerCRLs, m)
		default:
			return nil, d.Errf("pinreport revocation: unrecognized subdirective %q", d.Val())
		}
	}
	return rev, nil
}
