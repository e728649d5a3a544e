package pinreport

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hardtls/caddy-hardtls/internal/certs"
	"github.com/hardtls/caddy-hardtls/internal/strictjson"
)

// Pin is the SHA-256 digest of a DER-encoded SubjectPublicKeyInfo, the
// value that HPKP (RFC 7469 section 2.4), OkHttp's CertificatePinner,
// Android's <pin digest="SHA-256"> and DANE TLSA "x 1 1" records carry.
type Pin = certs.Pin

// SPKIPin returns the pin of a certificate's public key.
func SPKIPin(cert *x509.Certificate) Pin { return certs.SPKIPin(cert) }

// TLSA usages used in the report (RFC 6698 section 2.1.1, RFC 7218
// mnemonics): DANE-TA pins a trust anchor in the served chain, DANE-EE
// pins the server's own key.
const (
	tlsaDANETA = 2
	tlsaDANEEE = 3
)

// pinHowTo tells how to get a well-formed pin.
const pinHowTo = "write the 44-character base64 of the SHA-256 of a SubjectPublicKeyInfo, optionally prefixed sha256/, " +
	"as spki_pin in GET /pinreport/<host> or from: openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | " +
	"openssl dgst -sha256 -binary | base64"

// ParsePin reads a pin written as base64 of a SHA-256 digest, optionally
// prefixed "sha256/" as OkHttp writes it. Its error is a
// *strictjson.FieldError without a field; the caller places it.
func ParsePin(s string) (Pin, error) {
	var p Pin
	b64 := strings.TrimPrefix(s, "sha256/")
	for _, algo := range []string{"sha1/", "sha384/", "sha512/", "md5/"} {
		if strings.HasPrefix(s, algo) {
			return p, &strictjson.FieldError{Value: strconv.Quote(s), Why: "is a " + strings.TrimSuffix(algo, "/") + " pin; only SHA-256 pins are supported",
				Fix: pinHowTo}
		}
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return p, &strictjson.FieldError{Value: strconv.Quote(s), Why: fmt.Sprintf("is not base64 (%v)", err), Fix: pinHowTo}
	}
	if len(raw) != len(p) {
		return p, &strictjson.FieldError{Value: strconv.Quote(s), Why: fmt.Sprintf("decodes to %d bytes; a SHA-256 pin is %d bytes", len(raw), len(p)), Fix: pinHowTo}
	}
	copy(p[:], raw)
	return p, nil
}

// pinRule is the expected pins of one host pattern.
type pinRule struct {
	pattern string
	pins    []Pin
}

// pinRules are the compiled expected pins of the config, sorted by
// pattern.
type pinRules []pinRule

// compilePins parses the config's pins, naming the host, the index and
// the bad value in errors.
func compilePins(raw map[string][]string) (pinRules, error) {
	hosts := make([]string, 0, len(raw))
	for host := range raw {
		hosts = append(hosts, host)
	}
	sort.Strings(hosts)
	rules := make(pinRules, 0, len(hosts))
	for _, host := range hosts {
		pattern := strings.ToLower(host)
		field := fmt.Sprintf("pins[%q]", host)
		if why := checkPinPattern(pattern); why != "" {
			return nil, &strictjson.FieldError{Field: "pins", Value: strconv.Quote(host), Why: why,
				Fix: "key the pins by a host name (example.com), *.host (one label) or **.host (any labels), as OkHttp's CertificatePinner takes"}
		}
		if len(raw[host]) == 0 {
			return nil, &strictjson.FieldError{Field: field, Value: "[]", Why: "lists no pins",
				Fix: "list at least two (the served key and a backup), or remove the host"}
		}
		rule := pinRule{pattern: pattern}
		for i, s := range raw[host] {
			p, err := ParsePin(s)
			if err != nil {
				return nil, strictjson.InField(fmt.Sprintf("%s[%d]", field, i), err)
			}
			if !slices.Contains(rule.pins, p) {
				rule.pins = append(rule.pins, p)
			}
		}
		rules = append(rules, rule)
	}
	return rules, nil
}

// checkPinPattern accepts a host name or OkHttp's wildcard patterns:
// "*.example.com" (one label) and "**.example.com" (any number of labels,
// including none). It returns what is wrong, or "".
func checkPinPattern(p string) string {
	rest := strings.TrimPrefix(strings.TrimPrefix(p, "**."), "*.")
	switch {
	case p == "":
		return "is empty"
	case strings.ContainsAny(rest, "*/: "):
		return "is not a host name or pattern"
	case rest == "" || strings.HasPrefix(rest, ".") || strings.HasSuffix(rest, "."):
		return "has an empty label"
	}
	return ""
}

// matchesHost reports whether an OkHttp-style pattern applies to the
// concrete host name h.
func matchesHost(pattern, h string) bool {
	switch {
	case strings.HasPrefix(pattern, "**."):
		base := pattern[3:]
		return h == base || strings.HasSuffix(h, "."+base)
	case strings.HasPrefix(pattern, "*."):
		base := pattern[2:]
		label, ok := strings.CutSuffix(h, "."+base)
		return ok && label != "" && !strings.Contains(label, ".")
	}
	return pattern == h
}

// servesPattern reports whether a certificate name (which may be a
// wildcard such as *.example.com) serves a host the pattern applies to.
func servesPattern(pattern, name string) bool {
	name = strings.ToLower(name)
	if matchesHost(pattern, name) {
		return true
	}
	wildBase, isWild := strings.CutPrefix(name, "*.")
	if !isWild {
		return false
	}
	// A wildcard certificate serves every one-label subdomain of its
	// base, so it serves the pattern's host (or one of its hosts).
	host := strings.TrimPrefix(strings.TrimPrefix(pattern, "**."), "*.")
	if pattern != host {
		// *.base or **.base against *.base: the same set of hosts.
		return host == wildBase
	}
	_, parent, ok := strings.Cut(host, ".")
	return ok && parent == wildBase
}

// appliesTo returns the rules whose pattern one of the names serves.
func (rules pinRules) appliesTo(names []string) []*pinRule {
	var out []*pinRule
	for i := range rules {
		for _, n := range names {
			if servesPattern(rules[i].pattern, n) {
				out = append(out, &rules[i])
				break
			}
		}
	}
	return out
}

// matchesChain applies OkHttp's rule: the chain passes when the pin of
// any of its certificates is one of the expected pins.
func (r *pinRule) matchesChain(chain []Pin) bool {
	for _, p := range chain {
		if slices.Contains(r.pins, p) {
			return true
		}
	}
	return false
}
