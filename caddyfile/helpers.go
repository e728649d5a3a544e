// Package caddyfile registers the Caddyfile syntax of every hardtls module:
// the hsts and https_redirect directives and the tlsguard and pinreport
// global options. It only turns tokens into the modules' JSON config; the
// modules themselves know nothing of the Caddyfile.
package caddyfile

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
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

// intArg reads one integer argument between lo and hi.
func intArg(d *caddyfile.Dispenser, lo, hi int) (int, error) {
	name := d.Val()
	v, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, d.Errf("%s: %q is not a whole number from %d to %d", name, v, lo, hi)
	}
	return n, nil
}

// durationArg reads one positive duration argument in Caddy's syntax
// (90s, 10m, 14d); module names the global option in the error.
func durationArg(d *caddyfile.Dispenser, module string) (caddy.Duration, error) {
	name := d.Val()
	v, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(v)
	if err != nil || dur <= 0 {
		return 0, d.Errf("%s %s: %q is not a positive duration such as 90s, 10m or 14d", module, name, v)
	}
	return caddy.Duration(dur), nil
}
