package caddyfile

import (
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

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
			v, err := durationArg(d, "pinreport")
			if err != nil {
				return nil, err
			}
			app.ScanInterval = v
		case "warning_before":
			v, err := durationArg(d, "pinreport")
			if err != nil {
				return nil, err
			}
			app.WarningBefore = v
		case "critical_before":
			v, err := durationArg(d, "pinreport")
			if err != nil {
				return nil, err
			}
			app.CriticalBefore = v
		case "renewal_grace":
			v, err := durationArg(d, "pinreport")
			if err != nil {
				return nil, err
			}
			app.RenewalGrace = v
		case "pin":
			args := d.RemainingArgs()
			if len(args) < 2 {
				return nil, d.Errf("pinreport pin: want a host and at least one pin, e.g. pin example.com sha256/<base64> sha256/<backup>")
			}
			for _, p := range args[1:] {
				if _, err := pinreport.ParsePin(p); err != nil {
					return nil, d.Errf("pinreport pin %s: %v", args[0], err)
				}
			}
			if app.Pins == nil {
				app.Pins = make(map[string][]string)
			}
			app.Pins[args[0]] = append(app.Pins[args[0]], args[1:]...)
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

// parseWebhook reads the webhook subdirective and its block.
func parseWebhook(d *caddyfile.Dispenser) (*pinreport.Webhook, error) {
	url, err := oneArg(d)
	if err != nil {
		return nil, d.Errf("pinreport webhook: want one URL, e.g. webhook https://alerts.example.com/hook")
	}
	if err := pinreport.CheckWebhookURL(url); err != nil {
		return nil, d.Errf("pinreport webhook: %v", err)
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
			v, err := durationArg(d, "pinreport")
			if err != nil {
				return nil, err
			}
			hook.Timeout = v
		case "retries":
			n, err := intArg(d, 0, 20)
			if err != nil {
				return nil, err
			}
			hook.Retries = &n
		case "backoff":
			v, err := durationArg(d, "pinreport")
			if err != nil {
				return nil, err
			}
			hook.Backoff = v
		case "min_severity":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			if v != "info" && v != "warning" && v != "critical" {
				return nil, d.Errf("pinreport webhook min_severity: %q is not info, warning or critical", v)
			}
			hook.MinSeverity = v
		default:
			return nil, d.Errf("pinreport webhook: unrecognized subdirective %q", d.Val())
		}
	}
	return hook, nil
}
