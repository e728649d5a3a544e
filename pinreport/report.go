package pinreport

import (
	"bytes"
	"encoding/json"
	"io"
	"time"

	"github.com/hardtls/caddy-hardtls/internal/certs"
	"github.com/hardtls/caddy-hardtls/internal/revocation"
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
	// Revocation is what the last revocation check found; omitted when
	// the checks are off.
	Revocation *RevocationStatus `json:"revocation,omitempty"`
}

// RevocationStatus is a certificate's revocation status.
type RevocationStatus struct {
	// Status is good, revoked, unknown (the CRL or staple gives no
	// trustworthy answer: never a revocation) or unchecked (names no
	// CRL nor OCSP responder, or not checked yet).
	Status    string     `json:"status"`
	CheckedAt *time.Time `json:"checked_at,omitempty"`
	// CRL is the answer of the certificate's CRL, when it names one (or
	// issuer_crls gives its issuer's).
	CRL *RevocationAnswer `json:"crl,omitempty"`
	// OCSPStaple is the answer of the OCSP response Caddy staples, when
	// there is one.
	OCSPStaple *RevocationAnswer `json:"ocsp_staple,omitempty"`
}

// RevocationAnswer is what one source (a CRL, a stapled OCSP response)
// says.
type RevocationAnswer struct {
	// Status is good, revoked or unknown.
	Status string `json:"status"`
	// URL is the CRL that gave the answer (for unknown, the last tried).
	URL string `json:"url,omitempty"`
	// ThisUpdate and NextUpdate are those of the CRL or response: when
	// it was issued, and when a newer one is due.
	ThisUpdate *time.Time `json:"this_update,omitempty"`
	NextUpdate *time.Time `json:"next_update,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	// Reason is the RFC 5280 §5.3.1 reason of a revocation.
	Reason string `json:"reason,omitempty"`
	// Error says why the status is unknown; Warning is a problem that
	// did not prevent an answer (a refresh failed while the cached CRL
	// is still current).
	Error   string `json:"error,omitempty"`
	Warning string `json:"warning,omitempty"`
}

// revocationAnswer renders one source's answer.
func revocationAnswer(r *revocation.Result) *RevocationAnswer {
	if r == nil || r.Status == revocation.StatusAbsent {
		return nil
	}
	a := &RevocationAnswer{
		Status: string(r.Status), ThisUpdate: timeOrNil(r.ThisUpdate), NextUpdate: timeOrNil(r.NextUpdate),
	}
	if r.Source != revocation.SourceOCSPStaple {
		a.URL = r.Source
	}
	if r.Status == revocation.StatusRevoked {
		a.RevokedAt, a.Reason = timeOrNil(r.RevokedAt), r.Reason.String()
	}
	if r.Err != nil {
		a.Error = r.Err.Error()
	}
	if r.Warning != nil {
		a.Warning = r.Warning.Error()
	}
	return a
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
	inv        *inventory // for revocation states; nil leaves them out
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
	if r.inv != nil {
		rs := r.inv.revocationOf(e)
		c.Revocation = &RevocationStatus{
			Status: rs.status.String(), CRL: revocationAnswer(rs.crl), OCSPStaple: revocationAnswer(rs.staple),
		}
		if rs.checked != 0 {
			c.Revocation.CheckedAt = timeOrNil(time.Unix(rs.checked, 0).UTC())
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
