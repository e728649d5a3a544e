// Package webhook delivers hardtls alerts as signed JSON POST requests.
// It is the one implementation behind pinreport's webhook and fleet's:
// the value rules of a webhook's config, the signature, and delivery with
// a timeout per attempt and bounded retries. The apps keep their own JSON
// config structs (their fields differ) and turn them into a Config.
package webhook

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/hardtls/caddy-hardtls/internal/strictjson"
)

// Headers of every delivery.
const (
	// HeaderEvent carries the alert's event.
	HeaderEvent = "X-Hardtls-Event"
	// HeaderDelivery carries the alert ID, the same on every retry, so a
	// receiver can drop repeats.
	HeaderDelivery = "X-Hardtls-Delivery"
	// HeaderSignature carries Sign(secret, body) when a secret is set:
	// "sha256=<hex HMAC-SHA256 of the body>", as GitHub's
	// X-Hub-Signature-256 does.
	HeaderSignature = "X-Hardtls-Signature"
)

// Defaults and bounds.
const (
	DefaultTimeout = 10 * time.Second
	DefaultRetries = 3
	DefaultBackoff = time.Second
	MaxRetries     = 20
)

// Config is a webhook's configuration as an app's JSON holds it:
// placeholders not yet replaced, zero values standing for the defaults.
type Config struct {
	URL     string
	Secret  string
	Timeout time.Duration // per attempt; 0: DefaultTimeout
	Retries *int          // nil: DefaultRetries
	Backoff time.Duration // before the first retry, doubled for each next one; 0: DefaultBackoff
}

// Settings are a webhook's values once placeholders are replaced and the
// defaults applied.
type Settings struct {
	URL     string
	Secret  []byte
	Timeout time.Duration
	Retries int
	Backoff time.Duration
}

// Resolve replaces the placeholders of URL and Secret, such as
// {env.PINREPORT_SECRET}, and applies the defaults. A placeholder that is
// unknown or evaluates to nothing is refused: a secret from an unset
// variable would otherwise sign with an empty key. The values are
// checked by Settings.Check.
func (c Config) Resolve() (Settings, error) {
	repl := caddy.NewReplacer()
	u, err := repl.ReplaceOrErr(c.URL, true, true)
	if err != nil {
		return Settings{}, &strictjson.FieldError{Field: "url", Value: strconv.Quote(c.URL), Why: err.Error(),
			Fix: "use placeholders that are set when Caddy starts, such as {env.WEBHOOK_URL}"}
	}
	secret, err := repl.ReplaceOrErr(c.Secret, true, true)
	if err != nil {
		// Never echo the secret.
		return Settings{}, &strictjson.FieldError{Field: "secret", Value: "(not shown)", Why: err.Error(),
			Fix: "use placeholders that are set when Caddy starts, such as {env.WEBHOOK_SECRET}"}
	}
	s := Settings{URL: u, Secret: []byte(secret), Timeout: c.Timeout, Retries: DefaultRetries, Backoff: c.Backoff}
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	if c.Retries != nil {
		s.Retries = *c.Retries
	}
	if s.Backoff == 0 {
		s.Backoff = DefaultBackoff
	}
	return s, nil
}

// Check ensures resolved settings are usable.
func (s Settings) Check() error {
	if err := CheckURL(s.URL); err != nil {
		return err
	}
	switch {
	case s.Timeout < 0:
		return &strictjson.FieldError{Field: "timeout", Value: strconv.Quote(s.Timeout.String()), Why: "is negative", Fix: "write a positive duration such as 10s"}
	case s.Backoff < 0:
		return &strictjson.FieldError{Field: "backoff", Value: strconv.Quote(s.Backoff.String()), Why: "is negative", Fix: "write a positive duration such as 1s"}
	}
	return CheckRetries(s.Retries)
}

// Clone returns a copy of s that shares no memory with it.
func (s Settings) Clone() Settings {
	s.Secret = bytes.Clone(s.Secret)
	return s
}

// CheckRetries reports whether n retries are allowed: 0 to MaxRetries.
func CheckRetries(n int) error {
	if n < 0 || n > MaxRetries {
		return &strictjson.FieldError{Field: "retries", Value: strconv.Itoa(n), Why: "is out of range", Fix: fmt.Sprintf("write 0 to %d", MaxRetries)}
	}
	return nil
}

// CheckURL reports whether s is a usable webhook URL: absolute, http or
// https, with a host. A URL holding placeholders is checked once they
// are replaced, when the config loads.
func CheckURL(s string) error {
	if strings.ContainsAny(s, "{}") {
		return nil
	}
	return strictjson.CheckHTTPURL(s, "https://alerts.example.com/hook")
}
