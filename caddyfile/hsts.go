package caddyfile

import (
	"fmt"
	"strconv"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/hardtls/caddy-hardtls/hstspolicy"
	"github.com/hardtls/caddy-hardtls/internal/strictjson"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("hsts", parseHSTS)
	// Outermost of the handlers that touch response headers, so its
	// writer is the last to see the header map before it is sent.
	httpcaddyfile.RegisterDirectiveOrder("hsts", httpcaddyfile.Before, "header")

	httpcaddyfile.RegisterHandlerDirective("https_redirect", parseHTTPSRedirect)
	// After hsts, so a canonical-host redirect over HTTPS carries HSTS.
	httpcaddyfile.RegisterDirectiveOrder("https_redirect", httpcaddyfile.Before, "redir")
}

// Values are parsed and checked by hstspolicy's own functions, the ones
// its JSON decoding and Validate use: the Caddyfile only maps tokens to
// fields and adds the file and line to their errors.

// parseHSTS sets up the hsts handler from Caddyfile tokens. Syntax:
//
//	hsts [<max_age>] {
//		max_age            <seconds|duration>
//		include_subdomains [on|off]
//		preload
//		ramp {
//			start <RFC 3339 time>
//			stage <max_age> [<hold>]
//		}
//	}
//
// max_age takes seconds (63072000) or Caddy's duration syntax (730d).
func parseHSTS(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	h.Next() // consume directive name
	handler := new(hstspolicy.Handler)
	seen := subdirectives{}

	if h.NextArg() {
		maxAge, err := secondsArg(h.Dispenser, "max_age", h.Val())
		if err != nil {
			return nil, err
		}
		handler.MaxAge = &maxAge
		seen["max_age"] = true
		if h.NextArg() {
			return nil, h.ArgErr()
		}
	}

	for nesting := h.Nesting(); h.NextBlock(nesting); {
		if err := seen.once(h.Dispenser); err != nil {
			return nil, err
		}
		switch h.Val() {
		case "max_age":
			v, err := oneArg(h.Dispenser)
			if err != nil {
				return nil, err
			}
			maxAge, err := secondsArg(h.Dispenser, "max_age", v)
			if err != nil {
				return nil, err
			}
			handler.MaxAge = &maxAge
		case "include_subdomains":
			on, err := onOff(h.Dispenser)
			if err != nil {
				return nil, err
			}
			handler.IncludeSubdomains = &on
		case "preload":
			if err := noArgs(h.Dispenser); err != nil {
				return nil, err
			}
			handler.Preload = true
		case "ramp":
			ramp, err := parseRamp(h.Dispenser)
			if err != nil {
				return nil, err
			}
			handler.Ramp = ramp
		default:
			return nil, h.Errf("hsts: unrecognized subdirective %q", h.Val())
		}
	}
	return handler, nil
}

// secondsArg parses a seconds value of the JSON field named field.
func secondsArg(d *caddyfile.Dispenser, field, v string) (hstspolicy.Seconds, error) {
	s, err := hstspolicy.ParseSeconds(v)
	if err != nil {
		return 0, d.Err(strictjson.InField(field, err).Error())
	}
	return s, nil
}

func parseRamp(d *caddyfile.Dispenser) (*hstspolicy.Ramp, error) {
	if err := noArgs(d); err != nil {
		return nil, err
	}
	ramp := new(hstspolicy.Ramp)
	seenStart := false
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "start":
			if seenStart {
				return nil, d.Err("ramp: start given twice; keep one")
			}
			seenStart = true
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			start, err := hstspolicy.ParseRampStart(v)
			if err != nil {
				return nil, d.Err(strictjson.InField("ramp.start", err).Error())
			}
			ramp.Start = start
		case "stage":
			args := d.RemainingArgs()
			if len(args) < 1 || len(args) > 2 {
				return nil, d.ArgErr()
			}
			field := fmt.Sprintf("ramp.stages[%d].", len(ramp.Stages))
			var st hstspolicy.Stage
			var err error
			if st.MaxAge, err = secondsArg(d, field+"max_age", args[0]); err != nil {
				return nil, err
			}
			if len(args) == 2 {
				if st.Hold, err = secondsArg(d, field+"hold", args[1]); err != nil {
					return nil, err
				}
			}
			ramp.Stages = append(ramp.Stages, st)
		default:
			return nil, d.Errf("hsts ramp: unrecognized subdirective %q", d.Val())
		}
	}
	return ramp, nil
}

// parseHTTPSRedirect sets up the https_redirect handler. Syntax:
//
//	https_redirect [<status_code>] {
//		status_code    308|301
//		hosts          <host...>
//		canonical_host <host>
//		port           <port>
//	}
//
// hosts may be given on several lines; the lists are joined.
func parseHTTPSRedirect(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	h.Next() // consume directive name
	rd := new(hstspolicy.Redirect)
	seen := subdirectives{}

	if h.NextArg() {
		code, err := checkedInt(h.Dispenser, "status_code", h.Val(), hstspolicy.CheckStatusCode)
		if err != nil {
			return nil, err
		}
		rd.StatusCode = code
		seen["status_code"] = true
		if h.NextArg() {
			return nil, h.ArgErr()
		}
	}

	for nesting := h.Nesting(); h.NextBlock(nesting); {
		if h.Val() != "hosts" {
			if err := seen.once(h.Dispenser); err != nil {
				return nil, err
			}
		}
		switch h.Val() {
		case "status_code":
			v, err := oneArg(h.Dispenser)
			if err != nil {
				return nil, err
			}
			if rd.StatusCode, err = checkedInt(h.Dispenser, "status_code", v, hstspolicy.CheckStatusCode); err != nil {
				return nil, err
			}
		case "hosts":
			hosts := h.RemainingArgs()
			if len(hosts) == 0 {
				return nil, h.ArgErr()
			}
			rd.Hosts = append(rd.Hosts, hosts...)
			if _, err := hstspolicy.ParseHostList(rd.Hosts); err != nil {
				return nil, h.Err(err.Error())
			}
		case "canonical_host":
			v, err := oneArg(h.Dispenser)
			if err != nil {
				return nil, err
			}
			if _, err := hstspolicy.ParseCanonicalHost(v); err != nil {
				return nil, h.Err(err.Error())
			}
			rd.CanonicalHost = v
		case "port":
			v, err := oneArg(h.Dispenser)
			if err != nil {
				return nil, err
			}
			if rd.Port, err = checkedInt(h.Dispenser, "port", v, hstspolicy.CheckPort); err != nil {
				return nil, err
			}
		default:
			return nil, h.Errf("https_redirect: unrecognized subdirective %q", h.Val())
		}
	}
	return rd, nil
}

// checkedInt reads an integer token of the JSON field named field and
// runs the module's check on it.
func checkedInt(d *caddyfile.Dispenser, field, v string, check func(int) error) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, d.Errf("%s = %q: is not a whole number; fix: write it in digits", field, v)
	}
	if err := check(n); err != nil {
		return 0, d.Err(strictjson.InField(field, err).Error())
	}
	return n, nil
}
