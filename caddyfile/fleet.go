package caddyfile

import (
	"strconv"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/hardtls/caddy-hardtls/fleet"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("fleet", parseFleet)
}

// parseFleet sets up the fleet app from the global option. Syntax:
//
//	fleet {
//		interval        <duration>
//		stale_after     <missed intervals>
//		gone_after      <missed intervals>
//		forget_after    <duration>
//		clock_tolerance <duration>
//		drift_grace     <duration>
//		webhook <url> {
//			secret  <secret>
//			timeout <duration>
//		}
//	}
//
// A bare "fleet" turns the app on with its defaults. Only the syntax is
// checked here, and the webhook URL by the module's own rule (to add the
// line, as pinreport's); the fleet module checks every value (bounds
// included) when the config loads, with the same message for JSON and
// Caddyfile.
// A token that is not a duration gets the message a JSON string gets
// (durationValue).
func parseFleet(d *caddyfile.Dispenser, existing any) (any, error) {
	d.Next() // consume option name
	if existing != nil {
		return nil, d.Err("fleet: global option given twice; keep one block")
	}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	app := new(fleet.App)
	seen := subdirectives{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := seen.once(d); err != nil {
			return nil, err
		}
		var err error
		switch d.Val() {
		case "interval":
			app.Interval, err = durationValue(d, "interval")
		case "stale_after":
			app.StaleAfter, err = fleetInt(d)
		case "gone_after":
			app.GoneAfter, err = fleetInt(d)
		case "forget_after":
			app.ForgetAfter, err = durationValue(d, "forget_after")
		case "clock_tolerance":
			app.ClockTolerance, err = durationValue(d, "clock_tolerance")
		case "drift_grace":
			app.DriftGrace, err = durationValue(d, "drift_grace")
		case "webhook":
			app.Webhook, err = parseFleetWebhook(d)
		default:
			return nil, d.Errf("fleet: unrecognized subdirective %q", d.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	return httpcaddyfile.App{Name: "fleet", Value: caddyconfig.JSON(app, nil)}, nil
}

// parseFleetWebhook reads the webhook subdirective and its block.
func parseFleetWebhook(d *caddyfile.Dispenser) (*fleet.Webhook, error) {
	url, err := webhookURL(d, "fleet")
	if err != nil {
		return nil, err
	}
	hook := &fleet.Webhook{URL: url}
	seen := subdirectives{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := seen.once(d); err != nil {
			return nil, err
		}
		switch d.Val() {
		case "secret":
			if hook.Secret, err = oneArg(d); err != nil {
				return nil, err
			}
		case "timeout":
			if hook.Timeout, err = durationValue(d, "webhook.timeout"); err != nil {
				return nil, err
			}
		default:
			return nil, d.Errf("fleet webhook: unrecognized subdirective %q", d.Val())
		}
	}
	return hook, nil
}

// fleetInt reads one whole number; its bounds are the module's to check.
func fleetInt(d *caddyfile.Dispenser) (int, error) {
	name := d.Val()
	v, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, d.Errf("fleet %s: %q is not a whole number of intervals, e.g. 3", name, v)
	}
	return n, nil
}
