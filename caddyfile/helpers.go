package caddyfile

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/hardtls/caddy-hardtls/internal/strictjson"
)

// subdirectives refuses a subdirective that appears twice in one block,
// since a second value would silently override the first.
type subdirectives map[string]bool

func (seen subdirectives) once(d *caddyfile.Dispenser) error {
	name := d.Val()
	if seen[name] {
		return d.Errf("subdirective %q given twice; keep one", name)
	}
	seen[name] = true
	return nil
}

// oneArg reads exactly one argument of the current subdirective.
func oneArg(d *caddyfile.Dispenser) (string, error) {
	var v string
	if !d.AllArgs(&v) {
		return "", d.ArgErr()
	}
	return v, nil
}

// onOff reads an optional on/off argument; a bare subdirective means on.
func onOff(d *caddyfile.Dispenser) (bool, error) {
	name := d.Val()
	args := d.RemainingArgs()
	switch {
	case len(args) == 0:
		return true, nil
	case len(args) > 1:
		return false, d.ArgErr()
	}
	switch args[0] {
	case "on", "true":
		return true, nil
	case "off", "false":
		return false, nil
	}
	return false, d.Errf("%s: %q is not on or off", name, args[0])
}

// noArgs checks that the current subdirective has no arguments.
func noArgs(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// durationValue reads the one duration argument of the current
// subdirective, the value of the JSON field at path. A token that is not
// a duration gets the error a JSON config gets for the same string
// (strictjson.ParseDuration); whether the duration is in range is the
// module's to say when the config loads.
func durationValue(d *caddyfile.Dispenser, path string) (caddy.Duration, error) {
	v, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	dur, err := strictjson.ParseDuration(path, v)
	if err != nil {
		return 0, d.WrapErr(err)
	}
	return dur, nil
}
