package pinreport

import (
	"bytes"
	"encoding/json"
	"io"
	"time"

	"github.com/hardtls/caddy-hardtls/internal/certs"
)

// Report is the JSON document of GET /pinreport/ and /pinreport/<name>.
type Report struct {
	// GeneratedAt is when the report was rendered.
	GeneratedAt time.Time `json:"generated_at"`
	// ScannedAt is when the inventory was last reconciled in full with
	// the cache; events keep it current in between.
	ScannedAt time.Time `json:"scanned_at"`
	// Name is the name asked for, in /pinreport/<name>.
	Name string `json:"name,omitempty"`
	// Total is how many certificates pass the filters, in all pages;
	// omitted with expiring_within, which would have to count them.
	Total *int `json:"total,omitempty"`
	// Next is the after parameter of the next page; omitted on the last.
	Next         string              `json:"next,omitempty"`
	Certificates []CertificateReport `json:"certificates"`
}

// CertificateReport is everything the inventory knows about one cached
// certificate: the facts every hardtls report gives (certs.Summary: names,
// issuer, validity, key, SHA-256 fingerprint, SPKI pin...), then the
// inventory's own. There is no key material in it.
type CertificateReport struct {
	certs.Summary
	// IssuerKey is certmagic's name of the issuer that manages the
	// certificate (empty for manual ones).
	IssuerKey string `json:"issuer_key,omitempty"`
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
	renewals   *renewalLog
}

// certificate renders one entry at now.
func (r reporter) certificate(e *entry, now time.Time) CertificateReport {
	lvl, why := r.thresholds.level(e, now)
	c := CertificateReport{
		Summary:     e.Summary(now),
		IssuerKey:   e.IssuerKey,
		Chain:       make([]ChainCertificate, len(e.Chain)),
		TLSA:        []string{e.SPKI.TLSA(tlsaDANEEE)},
		State:       lvl.String(),
		StateDetail: why,
		Renewal:     RenewalStatus{ExpectedAt: e.renewAt, Source: "window"},
	}
	for i, cc := range e.Chain {
		c.Chain[i] = ChainCertificate{Subject: cc.Subject, SPKIPin: cc.SPKI.String(), NotAfter: cc.NotAfter}
	}
	if p, ok := e.IssuerPin(); ok {
		c.TLSA = append(c.TLSA, p.TLSA(tlsaDANETA))
	}
	if !e.ARI.IsZero() {
		c.Renewal.Source = "ari"
		c.Renewal.ARIWindowStart, c.Renewal.ARIWindowEnd = timeOrNil(e.ARI.Start()), timeOrNil(e.ARI.End())
	}
	if r.renewals != nil {
		st := r.renewals.status(e.Names)
		c.Renewal.LastObtained = timeOrNil(st.lastObtained)
		if st.lastFailure.After(st.lastObtained) {
			c.Renewal.LastFailure = timeOrNil(st.lastFailure)
			c.Renewal.LastError = st.lastError
			c.Renewal.ConsecutiveFailures = st.failures
		}
	}
	if rules := r.rules.appliesTo(e.Names); len(rules) > 0 {
		chain := e.ChainPins()
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

// writeJSON writes rep with the certificates of entries, rendered at
// rep.GeneratedAt one at a time.
func (r reporter) writeJSON(w io.Writer, rep Report, entries []*entry) error {
	now := rep.GeneratedAt
	rep.Certificates = nil
	head, err := json.Marshal(rep)
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
