// Package hardtls plugs every hardtls Caddy module into a Caddy build:
//
//	xcaddy build v2.11.9 --with github.com/hardtls/caddy-hardtls
//
// The modules live in one package each (hstspolicy, tlsguard, pinreport);
// their Caddyfile syntax lives in package caddyfile.
package hardtls

import (
	// Caddyfile directives and global options of every module.
	_ "github.com/hardtls/caddy-hardtls/caddyfile"
	// http.handlers.hsts and http.handlers.https_redirect.
	_ "github.com/hardtls/caddy-hardtls/hstspolicy"
	// tlsguard app and admin.api.tlsguard.
	_ "github.com/hardtls/caddy-hardtls/tlsguard"
	// App pinreport, events.handlers.pinreport and admin.api.pinreport.
	_ "github.com/hardtls/caddy-hardtls/pinreport"
	// App fleet and admin.api.fleet.
	_ "github.com/hardtls/caddy-hardtls/fleet"
)
