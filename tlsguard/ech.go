package tlsguard

import (
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
)

// Encrypted ClientHello. Caddy 2.11 serves ECH when the tls app has
// encrypted_client_hello configs (the Caddyfile's global option ech): it
// generates the keys, keeps them in storage, and hands them to every
// server's TLS config. Whether clients really use ECH depends on things a
// server cannot see: that they learned the config list (an HTTPS DNS
// record, which Caddy publishes only with a DNS provider), and that it is
// current. A client that has no config sends its real server name in the
// clear: the handshake succeeds and ECH silently protects nothing. The
// telemetry shows it: handshakes that accepted ECH per server and per
// site, and the refusals of clients whose config the server cannot
// decrypt with (alert ech_required).

// echPublicNames returns the public names of the ECH configs of the
// config's tls app, or nil when ECH is not configured. The http app must
// be provisioned (it provisions the tls app).
func echPublicNames(ctx caddy.Context) []string {
	app, err := ctx.AppIfConfigured("tls")
	if err != nil {
		return nil
	}
	tlsApp, ok := app.(*caddytls.TLS)
	if !ok || tlsApp.EncryptedClientHello == nil {
		return nil
	}
	var names []string
	for _, c := range tlsApp.EncryptedClientHello.Configs {
		// As Caddy reads it (caddytls.ECH.Provision).
		names = append(names, strings.ToLower(strings.TrimSpace(c.PublicName)))
	}
	return names
}

// ECHTelemetry is a server's Encrypted ClientHello counters; the report
// has it only where ECH is configured.
type ECHTelemetry struct {
	// PublicNames are the names of the configured ECH configs, which
	// clients put in the outer ClientHello.
	PublicNames []string `json:"public_names"`
	// ClientHellos counts the full-handshake ClientHellos that carry the
	// ECH extension. Browsers send a fake (GREASE) one when they know no
	// config, so this counts offers, not real attempts.
	ClientHellos uint64 `json:"client_hellos_with_ech"`
	// Accepted counts the completed handshakes in which the server
	// decrypted the inner ClientHello, and AcceptedShare is their share of
	// all completed handshakes (null before the first). A share that
	// drops while traffic does not is a silent fallback: clients stopped
	// using ECH (a DNS record gone or never published).
	Accepted      uint64   `json:"accepted_handshakes"`
	AcceptedShare *float64 `json:"accepted_share"`
	// Rejected counts the handshakes clients abandoned because the server
	// could not decrypt their ECH with any current key (alert
	// ech_required): their config list is stale. Such a client retries
	// with the configs the server sent back; the handshake itself is also
	// counted as completed, since Go's server counts it before the
	// client's answer (as with a client that rejects the certificate).
	Rejected uint64 `json:"rejected_handshakes"`
}

// SiteECH is one site's ECH counts.
type SiteECH struct {
	// Accepted counts the site's handshakes that accepted ECH, and
	// AcceptedShare is their share of the site's handshakes (null before
	// the first).
	Accepted      uint64   `json:"accepted_handshakes"`
	AcceptedShare *float64 `json:"accepted_share"`
}
