package pinreport

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/hardtls/caddy-hardtls/internal/certs"
	"github.com/hardtls/caddy-hardtls/internal/revocation"
	"github.com/hardtls/caddy-hardtls/internal/strictjson"
)

// Revocation configures the revocation checks of served certificates:
// the CRL each certificate names in its CRL Distribution Points (RFC 5280
// §4.2.1.13), fetched, verified against the issuer in the served chain
// and cached, and the OCSP response stapled to it, if any. Let's Encrypt
// ended OCSP in 2025: a CRL is the only signal left that a certificate
// Caddy serves was revoked. A CRL that cannot be fetched, parsed or
// verified, or is stale, is a warning, never a revocation.
type Revocation struct {
	// Disabled turns the checks off. Default: false (checks on).
	Disabled bool `json:"disabled,omitempty"`

	// Interval is how often every served certificate that names a CRL
	// (or whose issuer issuer_crls maps to one) is checked. Each check
	// asks the CA whether its CRL changed (a conditional request: a 304
	// when not), so a revocation is seen at the first check after the
	// CA publishes it. Default: 1h.
	Interval caddy.Duration `json:"interval,omitempty"`

	// Timeout bounds one CRL fetch, redirects and body included.
	// Default: 30s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// MaxSize caps a CRL body, in bytes. Let's Encrypt's sharded CRLs
	// are kilobytes, the largest public CRLs tens of megabytes.
	// Default: 10485760 (10 MiB).
	MaxSize int64 `json:"max_size,omitempty"`

	// IssuerCRLs gives the CRLs of issuers whose certificates name none:
	// CAs may disclose their CRLs in the CCADB instead (the CA/Browser
	// Forum's baseline requirements allow either), and private CAs often
	// publish them without naming them. A certificate that names CRLs is
	// checked against those. Default: none.
	IssuerCRLs []IssuerCRL `json:"issuer_crls,omitempty"`

	interval time.Duration
	bySPKI   map[Pin][]string
	bySubj   map[string][]string
}

// IssuerCRL maps an issuing CA, by its key or by its name, to the URL of
// its CRL.
type IssuerCRL struct {
	// IssuerSPKI is the pin of the issuing CA's key (base64 SHA-256 of
	// its SubjectPublicKeyInfo, optionally prefixed sha256/), as the
	// report's chain[0].spki_pin gives it. Set it or IssuerSubject.
	IssuerSPKI string `json:"issuer_spki,omitempty"`

	// IssuerSubject is the issuing CA's name as the report's issuer
	// field gives it, e.g. "CN=R12,O=Let's Encrypt,C=US". Set it or
	// IssuerSPKI.
	IssuerSubject string `json:"issuer_subject,omitempty"`

	// URL is where the CRL is, an http or https URL. Required.
	URL string `json:"url,omitempty"`
}

// Defaults of the revocation checks.
const (
	defaultRevocationInterval = time.Hour
	minRevocationInterval     = time.Second
	revocationWorkers         = 8
)

// CheckCRLURL reports whether s is a usable CRL URL: absolute, http or
// https (RFC 5280 §4.2.1.13: CRLs are fetched over HTTP; the checker
// refuses ldap and file URLs), with a host.
func CheckCRLURL(s string) error {
	return strictjson.CheckHTTPURL(s, "http://crl.example.com/ca.crl")
}

// provision applies defaults and compiles the issuer map.
func (r *Revocation) provision() error {
	r.interval = time.Duration(r.Interval)
	if r.interval == 0 {
		r.interval = defaultRevocationInterval
	}
	r.bySPKI, r.bySubj = make(map[Pin][]string), make(map[string][]string)
	for i, m := range r.IssuerCRLs {
		if err := CheckIssuerCRL(m); err != nil {
			return strictjson.Within(fmt.Sprintf("issuer_crls[%d]", i), err)
		}
		if m.IssuerSPKI != "" {
			pin, _ := ParsePin(m.IssuerSPKI)
			r.bySPKI[pin] = append(r.bySPKI[pin], m.URL)
		} else {
			r.bySubj[m.IssuerSubject] = append(r.bySubj[m.IssuerSubject], m.URL)
		}
	}
	return nil
}

// CheckIssuerCRL reports whether m names one issuer, by a well-formed pin
// or a name, and a usable CRL URL.
func CheckIssuerCRL(m IssuerCRL) error {
	switch {
	case m.IssuerSPKI == "" && m.IssuerSubject == "":
		return &strictjson.FieldError{Field: "issuer_spki", Value: `""`, Why: "is required when issuer_subject is not set",
			Fix: "set issuer_spki (the issuing CA's pin, chain[0].spki_pin in GET /pinreport/<host>) or issuer_subject (its name, the report's issuer)"}
	case m.IssuerSPKI != "" && m.IssuerSubject != "":
		return &strictjson.FieldError{Field: "issuer_subject", Value: strconv.Quote(m.IssuerSubject), Why: "is set beside issuer_spki; an entry names its issuer one way",
			Fix: "keep issuer_spki or issuer_subject, not both"}
	case m.IssuerSPKI != "":
		if _, err := ParsePin(m.IssuerSPKI); err != nil {
			return strictjson.InField("issuer_spki", err)
		}
	}
	return CheckCRLURL(m.URL)
}

// validateIfSet checks the provisioned values of r, if r is set.
func (r *Revocation) validateIfSet() error {
	switch {
	case r == nil:
		return nil
	case r.interval < minRevocationInterval:
		return &strictjson.FieldError{Field: "interval", Value: strictjson.DurationValue(r.interval), Why: "is too short",
			Fix: fmt.Sprintf("use %s or more, e.g. 1h", minRevocationInterval)}
	case r.Timeout < 0:
		return &strictjson.FieldError{Field: "timeout", Value: strictjson.DurationValue(r.Timeout), Why: "is negative", Fix: "use a positive duration such as 30s"}
	case r.MaxSize < 0:
		return &strictjson.FieldError{Field: "max_size", Value: strconv.FormatInt(int64(r.MaxSize), 10), Why: "is negative",
			Fix: "use a size in bytes such as 10485760, or leave it out for the default"}
	}
	return nil
}

// crlURLs returns the CRLs to check e against: those it names, else those
// configured for its issuer.
func (r *Revocation) crlURLs(e *entry) []string {
	if len(e.Leaf.CRLDistributionPoints) > 0 {
		return e.Leaf.CRLDistributionPoints
	}
	if len(r.bySPKI) > 0 {
		if pin, ok := e.IssuerPin(); ok {
			if urls := r.bySPKI[pin]; len(urls) > 0 {
				return urls
			}
		}
	}
	return r.bySubj[e.Issuer]
}

// checked reports whether e has something to check: a CRL, or an OCSP
// responder whose response Caddy may staple.
func (r *Revocation) checked(e *entry) bool {
	return len(r.crlURLs(e)) > 0 || len(e.Leaf.OCSPServer) > 0
}

// revocationMonitor checks the inventory's certificates for revocation
// every interval. It belongs to one app instance: its checker (and the
// CRLs it caches) die with it.
type revocationMonitor struct {
	cfg     *Revocation
	checker *revocation.Checker
	now     func() time.Time

	mu   sync.Mutex
	good map[string]*revocation.Result // shared answers of current CRLs, by source and thisUpdate
}

func newRevocationMonitor(cfg *Revocation, now func() time.Time) *revocationMonitor {
	return &revocationMonitor{
		cfg: cfg,
		checker: revocation.New(revocation.Config{
			Now:     now,
			Timeout: time.Duration(cfg.Timeout),
			// Checks every interval each ask whether the CRL changed.
			Refresh:    cfg.interval / 2,
			RetryAfter: min(revocation.DefaultRetryAfter, cfg.interval),
			MaxBytes:   cfg.MaxSize,
			UserAgent:  "caddy-pinreport",
		}),
		now:  now,
		good: make(map[string]*revocation.Result),
	}
}

// issuerOf returns the certificate of the served chain that issued e's
// leaf: its subject is the leaf's issuer and, when both say, its key is
// the one the leaf names.
func issuerOf(e *entry) *x509.Certificate {
	leaf := e.Leaf
	for _, cc := range e.Chain {
		c := cc.Cert
		if c == nil || !bytes.Equal(c.RawSubject, leaf.RawIssuer) {
			continue
		}
		if len(leaf.AuthorityKeyId) > 0 && len(c.SubjectKeyId) > 0 && !bytes.Equal(leaf.AuthorityKeyId, c.SubjectKeyId) {
			continue
		}
		return c
	}
	return nil
}

// revocationCheck is the outcome of checking one certificate.
type revocationCheck struct {
	crl, staple *revocation.Result // nil: nothing to check
}

// check answers e's CRL and, if the cache holds one for it, its stapled
// OCSP response.
func (m *revocationMonitor) check(ctx context.Context, e *entry, lookup certs.Lookup) revocationCheck {
	var out revocationCheck
	issuer := issuerOf(e)
	if urls := m.cfg.crlURLs(e); len(urls) > 0 {
		res := m.checker.CheckURLs(ctx, e.Leaf, issuer, urls)
		if res.Status == revocation.StatusGood && res.Warning == nil {
			out.crl = m.shared(res)
		} else {
			out.crl = &res
		}
	}
	if len(e.Leaf.OCSPServer) > 0 {
		for _, c := range lookup(e.FirstName()) {
			if c.Hash() == e.Hash && len(c.OCSPStaple) > 0 {
				res := revocation.CheckStaple(c.OCSPStaple, e.Leaf, issuer, m.now())
				out.staple = &res
				break
			}
		}
	}
	return out
}

// shared returns one Result per good answer of a CRL, shared by every
// certificate the CRL covers: a CRL shard covers many.
func (m *revocationMonitor) shared(res revocation.Result) *revocation.Result {
	key := res.Source + "|" + res.ThisUpdate.String()
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.good[key]; ok {
		return r
	}
	if len(m.good) > 10000 {
		clear(m.good) // old CRL versions
	}
	r := &res
	m.good[key] = r
	return r
}

// checkRevocations checks every certificate of the inventory that has a
// CRL or a staple, and raises the alerts the answers call for.
func (a *App) checkRevocations(ctx context.Context) {
	start := time.Now()
	m := a.revocation
	targets := a.state.inv.revocationTargets(m.cfg.checked)
	lookup := a.lookupFunc()
	work := make(chan *entry)
	var wg sync.WaitGroup
	for range min(revocationWorkers, len(targets)) {
		wg.Go(func() {
			for e := range work {
				res := m.check(ctx, e, lookup)
				now := a.now()
				if tr := a.state.inv.recordRevocation(a.policy, e, res, now); tr != nil {
					a.raiseAll(a.revocationAlerts(e, res, *tr, now))
				}
			}
		})
	}
	for _, e := range targets {
		select {
		case work <- e:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	counts := a.state.inv.revocationCounts()
	a.logger.Debug("revocation checked",
		zap.Int("certificates", len(targets)),
		zap.Int("good", counts[revGood]),
		zap.Int("revoked", counts[revRevoked]),
		zap.Int("unknown", counts[revUnknown]),
		zap.Time("started", start),
		zap.Duration("took", time.Since(start)))
}

// runRevocationChecks checks every interval until ctx is done, the first
// time shortly after start (once the first reconcile has filled the
// inventory).
func (a *App) runRevocationChecks(ctx context.Context) {
	first := time.NewTimer(min(a.revocation.cfg.interval, startFollowUp))
	defer first.Stop()
	select {
	case <-ctx.Done():
		return
	case <-first.C:
	}
	ticker := time.NewTicker(a.revocation.cfg.interval)
	defer ticker.Stop()
	for {
		a.checkRevocations(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// revocationAlerts turns a change of e's revocation status into alerts: a
// revocation (critical, once per certificate), or an answer that could
// not be had (warning, once per streak).
func (a *App) revocationAlerts(e *entry, res revocationCheck, tr revTransition, now time.Time) []Alert {
	switch tr.to {
	case revRevoked:
		src, r := revocationSourceCRL, res.crl
		if r == nil || r.Status != revocation.StatusRevoked {
			src, r = revocationSourceStaple, res.staple
		}
		a.state.counts.revoked(src)
		al := newAlert(EventRevoked, SeverityCritical, now, "certificate revoked")
		al.RevocationSource = src
		if src == revocationSourceCRL {
			al.CRL = r.Source
		}
		al.RevokedAt = timeOrNil(r.RevokedAt)
		al.RevocationReason = r.Reason.String()
		al.Detail = fmt.Sprintf("%s says serial %s was revoked at %s (%s)", describeSource(src, r.Source),
			certs.SerialHex(e.Leaf), r.RevokedAt.UTC().Format(time.RFC3339), r.Reason)
		al.Fix = a.replacementFix(e)
		al.Certificate = alertCertificate(&e.Facts, now)
		return []Alert{al}
	case revUnknown:
		al := newAlert(EventRevocationUnknown, SeverityWarning, now, "certificate revocation status unknown")
		var errs []string
		for _, r := range []*revocation.Result{res.crl, res.staple} {
			if r != nil && r.Status == revocation.StatusUnknown {
				errs = append(errs, r.Err.Error())
			}
		}
		al.Error = strings.Join(errs, "; ")
		al.Detail = "no trustworthy answer from the CA: this is not a revocation, but a revocation would not be seen either until it is fixed"
		al.Certificate = alertCertificate(&e.Facts, now)
		return []Alert{al}
	}
	return nil
}

// Sources of a revocation, as alerts and metrics name them.
const (
	revocationSourceCRL    = "crl"
	revocationSourceStaple = "ocsp_staple"
	revocationSourceOCSP   = "ocsp" // certmagic's own OCSP check (cert_ocsp_revoked)
)

func describeSource(src, url string) string {
	if src == revocationSourceCRL {
		return "the CRL " + url
	}
	return "the stapled OCSP response"
}

// replacementFix says how to replace a revoked certificate. No API a
// plugin can call replaces a certificate in Caddy 2.11's cache: the
// certmagic.Config of an automation policy is unexported
// (caddytls.AutomationPolicy.magic), as is the call that swaps a renewed
// certificate into the cache (certmagic's Config.reloadManagedCertificate),
// and Caddy keeps serving a cached managed certificate until it nears its
// expiry, across reloads (certmagic's manageOne skips a name whose
// certificate is cached). So the operator replaces it.
func (a *App) replacementFix(e *entry) string {
	if e.Kind == KindManual {
		return "replace the certificate files (or PEM) the config loads with a new certificate for " + strings.Join(e.Names, ", ") +
			" and reload the config; clients that check revocation refuse this one"
	}
	key := certmagic.StorageKeys.CertsSitePrefix(e.IssuerKey, e.FirstName())
	where := "the storage key " + key
	if fs, ok := a.storage.(*certmagic.FileStorage); ok {
		where = fs.Filename(key)
	}
	return "Caddy keeps serving this certificate until it nears expiry, also across reloads, and offers no way to force its " +
		"replacement: remove " + where + " (the certificate, its key and metadata) and restart Caddy (a reload keeps " +
		"serving the cached certificate); Caddy then obtains a new one from " + e.IssuerKey
}
