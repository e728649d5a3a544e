// Command caddy is stock Caddy v2 with every hardtls module plugged in.
// It exists for development: `go run ./cmd/caddy run --config examples/Caddyfile`.
// Production builds use xcaddy; see the README.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	// Plug in Caddy's standard modules.
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	// Plug in every hardtls module.
	_ "github.com/hardtls/caddy-hardtls"
)

func main() {
	caddycmd.Main()
}
