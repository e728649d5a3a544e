package caddyfile

import (
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/hardtls/caddy-hardtls/hstspolicy"
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
		maxAge, err := hstspolicy.ParseSeconds(h.Val())
		if err != nil {
			return nil, h.Errf("hsts max_age: %v", err)
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
			maxAge, err := hstspolicy.ParseSeconds(v)
			if err != nil {
				return nil, h.Errf("hsts max_age: %v", err)
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
			start, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return nil, d.Errf("ramp start: %q is not an RFC 3339 time such as 2026-12-01T00:00:00Z", v)
			}
			ramp.Start = start
		case "stage":
			args := d.RemainingArgs()
			if len(args) < 1 || len(args) > 2 {
				return nil, d.ArgErr()
			}
			var st hstspolicy.Stage
			var err error
			if st.MaxAge, err = hstspolicy.ParseSeconds(args[0]); err != nil {
				return nil, d.Errf("ramp stage max_age: %v", err)
			}
			if len(args) == 2 {
				if st.Hold, err = hstspolicy.ParseSeconds(args[1]); err != nil {
					return nil, d.Errf("ramp stage hold: %v", err)
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
		h.Prev()
		code, err := intArg(h.Dispenser, 300, 399)
		if err != nil {
			return nil, err
		}
		rd.StatusCode = code
		seen["status_code"] = true
	}

	for nesting := h.Nesting(); h.NextBlock(nesting); {
		if h.Val() != "hosts" {
			if err := seen.once(h.Dispenser); err != nil {
				return nil, err
			}
		}
		switch h.Val() {
		case "status_code":
			code, err := intArg(h.Dispenser, 300, 399)
			if err != nil {
				return nil, err
			}
			rd.StatusCode = code
		case "hosts":
			hosts := h.RemainingArgs()
			if len(hosts) == 0 {
				return nil, h.ArgErr()
			}
			rd.Hosts = append(rd.Hosts, hosts...)
		case "canonical_host":
			v, err := oneArg(h.Dispenser)
			if err != nil {
				return nil, err
			}
			rd.CanonicalHost = v
		case "port":
			port, err := intArg(h.Dispenser, 1, 65535)
			if err != nil {
				return nil, err
			}
			rd.Port = port
		default:
			return nil, h.Errf("https_redirect: unrecognized subdirective %q", h.Val())
		}
	}
	return rd, nil
}
