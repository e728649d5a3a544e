// Package caddyfile registers the Caddyfile syntax of every hardtls module:
// the hsts and https_redirect directives and the tlsguard, pinreport and
// fleet global options. It turns tokens into the modules' JSON config and
// nothing else.
//
// # Where the parsers live
//
// Caddy's own handlers, and plugins such as caddy-ratelimit, parse their
// Caddyfile in an UnmarshalCaddyfile method on the module. hardtls keeps its
// parsers here, as functions registered with httpcaddyfile, because:
//
//   - The module packages are JSON-first: their config is the JSON struct,
//     whose field comments are the published docs, and they know nothing of
//     the Caddyfile. This package depends on them, never the reverse, so a
//     module package's imports are its own business (see DESIGN.md).
//   - Three of the five are global options that build apps (tlsguard,
//     pinreport, fleet). A global option is a function that returns
//     httpcaddyfile.App, not a caddyfile.Unmarshaler; Caddy parses its own
//     app options (pki, events, servers) in httpcaddyfile, outside the apps.
//     Methods would cover only the two handlers and give the syntax two
//     homes.
//   - A method would buy one thing: another module's Caddyfile code could
//     nest ours through caddyfile.UnmarshalModule (as reverse_proxy nests a
//     transport). HTTP handlers are reached by directives, never nested that
//     way, so nothing is lost. If that changes, this decision should be
//     revisited.
//   - Here, all the syntax shares one set of helpers (subdirectives, onOff,
//     durationValue), one golden corpus and one test of it.
//
// Placement does not keep a second copy of a rule out; the rule does. A
// parser maps tokens to the JSON fields and reports the Caddyfile's own
// grammar (argument counts, subdirective names, a repeated subdirective, a
// token that is not a number or on/off) with the file and line. It never
// holds a list, bound or default of its own. A value rule lives once, in
// the module, and runs when the config loads (Provision, Validate); the
// parser may call the module's exported check for a single value
// (hstspolicy.ParseSeconds, tlsguard.CheckCurves, pinreport.ParsePin, ...)
// or the decoder's own duration parser (strictjson.ParseDuration) only to
// give the same message with the file and line added. Rules over several
// fields, such as tlsguard's custom settings with profile custom or fleet's
// gone_after over stale_after, run only in the module.
//
// TestGolden holds every case to that: each testdata/*.caddyfiletest has a
// JSON twin, and both get the same decision and the same message.
// FuzzCaddyfileAndJSONAgree feeds the same values to both paths for every
// subdirective.
package caddyfile
