package pinreport

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
	"time"
)

// Report is the JSON document of GET /pinreport/ and /pinreport/<name>.
type Report struct {
	// GeneratedAt is when the report was rendered.
	GeneratedAt time.Time `json:"generated_at"`
	// ScannedAt is when the inventory was last rebuilt from the cache.
	ScannedAt time.Time `json:"scanned_at"`
	// Name is the name asked for, in /pinreport/<name>.
	Name         string              `json:"name,omitempty"`
	Certificates []CertificateReport `json:"certificates"`
}

// CertificateReport is everything the inventory knows about one cached
// certificate. There is no key material in it.
type CertificateReport struct {
	Names      []string `json:"names"`
	IssuerKind string   `json:"issuer_kind"`
	// IssuerKey is certmagic's name of the issuer that manages the
	// certificate (empty for manual ones).
	IssuerKey        string    `json:"issuer_key,omitempty"`
	Issuer           string    `json:"issuer"`
	Subject          string    `json:"subject,omitempty"`
	Serial           string    `json:"serial"`
	NotBefore        time.Time `json:"not_before"`
	NotAfter         time.Time `json:"not_after"`
	LifetimeSeconds  int64     `json:"lifetime_seconds"`
	RemainingSeconds int64     `json:"remaining_seconds"`
	KeyType          string    `json:"key_type"`
	KeyBits          int       `json:"key_bits"`
	// SHA256Fingerprint is the lowercase hex SHA-256 of the leaf's DER.
	SHA256Fingerprint string `json:"sha256_fingerprint"`
	// SPKIPin is base64(sha256(SubjectPublicKeyInfo)) of the leaf.
	SPKIPin string `json:"spki_pin"`
	// Chain is the served chain above the leaf, issuer first.
	Chain []ChainCertificate `json:"chain"`
	// TLSA holds "3 1 1" for the leaf and "2 1 1" for its issuer.
	TLSA         []string      `json:"tlsa"`
	State        string        `json:"state"`
	StateDetail  string        `json:"state_detail,omitempty"`
	Renewal      RenewalStatus `json:"renewal"`
	ExpectedPins []PinCheck    `json:"expected_pins,omitempty"`
}

// ChainCertificate is a certificate of the served chain above the leaf.
type ChainCertificate struct {
	Subject  string    `json:"subject"`
	SPKIPin  string    `json:"spki_pin"`
	NotAfter time.Time `json:"not_after"`
}

// RenewalStatus tells when the certificate is due for renewal and how
// the last attempts went.
type RenewalStatus struct {
	// ExpectedAt is when Caddy is expected to renew: the CA's ARI
	// renewal time when there is one, else when the renewal window
	// (a third of the lifetime by default) begins.
	ExpectedAt time.Time `json:"expected_at"`
	// Source is "ari" or "window".
	Source              string     `json:"source"`
	ARIWindowStart      *time.Time `json:"ari_window_start,omitempty"`
	ARIWindowEnd        *time.Time `json:"ari_window_end,omitempty"`
	LastObtained        *time.Time `json:"last_obtained,omitempty"`
	LastFailure         *time.Time `json:"last_failure,omitempty"`
	LastError           string     `json:"last_error,omitempty"`
	ConsecutiveFailures int        `json:"consecutive_failures,omitempty"`
}

// PinCheck is the result of the expected pins of one host pattern for a
// certificate that serves it.
type PinCheck struct {
	Host string   `json:"host"`
	Pins []string `json:"pins"`
	// Match holds when a pin of the served chain is among Pins.
	Match bool `json:"match"`
	// Backup holds when there is more than one pin, so the site can
	// move to another key without breaking pinned clients.
	Backup bool `json:"backup"`
}

// reporter renders entries with one config's thresholds and pins.
type reporter struct {
	thresholds thresholds
	rules      pinRules
	state      *state
}

// certificate renders one entry at now.
func (r reporter) certificate(e *entry, now time.Time) CertificateReport {
	leaf := e.leaf
	keyType, keyBits := keyInfo(leaf)
	lvl, why := r.thresholds.level(e, now)
	c := CertificateReport{
		Names:             e.names,
		IssuerKind:        e.kind.String(),
		IssuerKey:         e.issuerKey,
		Issuer:            e.issuer,
		Subject:           e.subject,
		Serial:            serialHex(leaf),
		NotBefore:         leaf.NotBefore,
		NotAfter:          leaf.NotAfter,
		LifetimeSeconds:   int64(e.lifetime() / time.Second),
		RemainingSeconds:  int64(leaf.NotAfter.Sub(now) / time.Second),
		KeyType:           keyType,
		KeyBits:           keyBits,
		SHA256Fingerprint: fingerprintHex(e.fingerprint),
		SPKIPin:           e.spki.String(),
		Chain:             make([]ChainCertificate, len(e.chain)),
		TLSA:              []string{e.spki.TLSA(tlsaDANEEE)},
		State:             lvl.String(),
		StateDetail:       why,
		Renewal:           RenewalStatus{ExpectedAt: e.renewAt, Source: "window"},
	}
	for i, cc := range e.chain {
		c.Chain[i] = ChainCertificate{Subject: cc.subject, SPKIPin: cc.spki.String(), NotAfter: cc.notAfter}
	}
	if p, ok := e.issuerPin(); ok {
		c.TLSA = append(c.TLSA, p.TLSA(tlsaDANETA))
	}
	if !e.ariAt.IsZero() {
		c.Renewal.Source = "ari"
		c.Renewal.ARIWindowStart, c.Renewal.ARIWindowEnd = timeOrNil(e.ariStart), timeOrNil(e.ariEnd)
	}
	if r.state != nil {
		st := r.state.status(e.names)
		c.Renewal.LastObtained = timeOrNil(st.lastObtained)
		if st.lastFailure.After(st.lastObtained) {
			c.Renewal.LastFailure = timeOrNil(st.lastFailure)
			c.Renewal.LastError = st.lastError
			c.Renewal.ConsecutiveFailures = st.failures
		}
	}
	if rules := r.rules.appliesTo(e.names); len(rules) > 0 {
		chain := e.chainPins()
		for _, rule := range rules {
			c.ExpectedPins = append(c.ExpectedPins, PinCheck{
				Host:   rule.pattern,
				Pins:   pinStrings(rule.pins),
				Match:  rule.matchesChain(chain),
				Backup: len(rule.pins) > 1,
			})
		}
	}
	return c
}

// writeJSON writes the Report of entries at now, one certificate at a
// time, so that a large inventory is never held in memory as a whole.
func (r reporter) writeJSON(w io.Writer, name string, entries []*entry, scannedAt, now time.Time) error {
	head, err := json.Marshal(Report{GeneratedAt: now, ScannedAt: scannedAt, Name: name})
	if err != nil {
		return err
	}
	// head ends with "certificates":null}; open the array there instead.
	head = bytes.TrimSuffix(head, []byte("null}"))
	if _, err := w.Write(append(head, '[')); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	for i, e := range entries {
		if i > 0 {
			if _, err := io.WriteString(w, ","); err != nil {
				return err
			}
		}
		if err := enc.Encode(r.certificate(e, now)); err != nil {
			return err
		}
	}
	_, err = io.WriteString(w, "]}\n")
	return err
}

// entriesFor returns the entries that serve name: those with the name
// itself first, then wildcard certificates that cover it.
func entriesFor(entries []*entry, name string) []*entry {
	name = strings.ToLower(name)
	var exact, wild []*entry
	for _, e := range entries {
		for _, n := range e.names {
			n = strings.ToLower(n)
			if n == name {
				exact = append(exact, e)
				break
			}
			if base, ok := strings.CutPrefix(n, "*."); ok {
				if _, parent, ok := strings.Cut(name, "."); ok && parent == base {
					wild = append(wild, e)
					break
				}
			}
		}
	}
	return append(exact, wild...)
}

// serialHex returns the serial number in uppercase hex, as
// `openssl x509 -serial` prints it.
func serialHex(cert *x509.Certificate) string {
	if cert.SerialNumber == nil {
		return ""
	}
	return strings.ToUpper(hex.EncodeToString(cert.SerialNumber.Bytes()))
}

func fingerprintHex(fp [sha256.Size]byte) string { return hex.EncodeToString(fp[:]) }

func pinStrings(pins []Pin) []string {
	out := make([]string, len(pins))
	for i, p := range pins {
		out[i] = p.String()
	}
	return out
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
