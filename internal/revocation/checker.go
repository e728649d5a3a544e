package revocation

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// Defaults of Config.
const (
	DefaultMaxBytes       = 10 << 20
	DefaultTimeout        = 30 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	DefaultMaxRedirects   = 3
	DefaultRefresh        = time.Hour
	DefaultRetryAfter     = 5 * time.Minute
	DefaultMaxIdle        = 24 * time.Hour
)

// Config sets up a Checker. The zero value is usable: every field has a
// default.
type Config struct {
	// Client sends the CRL requests. The Checker copies it and sets its
	// own redirect policy on the copy; the caller's client is not changed.
	// Default: a client of its own, with a connect timeout of
	// ConnectTimeout, honouring the proxy environment variables.
	Client *http.Client

	// Now is the clock CRL freshness is judged by. Default: time.Now.
	Now func() time.Time

	// MaxBytes caps a CRL body; a larger one is refused after reading at
	// most MaxBytes+1 bytes. Let's Encrypt's sharded CRLs are kilobytes,
	// the largest public CRLs tens of megabytes. Default: 10 MiB.
	MaxBytes int64

	// Timeout bounds one CRL fetch, redirects and body included, so a
	// server that trickles its answer cannot hold a check. Default: 30s.
	Timeout time.Duration

	// ConnectTimeout bounds the TCP connection of the default client; it
	// is not used when Client is set. Default: 10s.
	ConnectTimeout time.Duration

	// MaxRedirects is how many redirects a fetch follows; a negative value
	// follows none. A redirect to a URL already visited in the same fetch
	// is a loop and fails at once. Default: 3.
	MaxRedirects int

	// Refresh is how long a CRL is used without asking the server again,
	// if its nextUpdate is not sooner. After it, a conditional request
	// (If-None-Match, If-Modified-Since) asks whether the CRL changed,
	// which costs the CA a 304 when it did not. CAs publish a new CRL soon
	// after a revocation, long before nextUpdate: Refresh bounds how late
	// a revocation is seen. Default: 1h.
	Refresh time.Duration

	// RetryAfter is how long a failed fetch is not retried: checks in that
	// time get the same unknown answer, so a dead or hostile server is not
	// asked again on every check. Default: 5m.
	RetryAfter time.Duration

	// MaxIdle is how long a CRL no certificate has asked for stays cached.
	// Default: 24h.
	MaxIdle time.Duration

	// UserAgent is sent with every request. Default: "hardtls-revocation".
	UserAgent string
}

// Checker answers whether certificates are revoked, from the CRLs they
// name. It caches each CRL by URL until its nextUpdate or Refresh, makes
// one fetch per URL at a time however many certificates (and goroutines)
// ask, and is safe for concurrent use.
//
// A Checker fetches any http or https URL a served certificate names,
// private addresses included: internal CAs publish CRLs on internal
// networks, and the URLs come from certificates the operator chose to
// serve, not from clients.
type Checker struct {
	client       http.Client
	now          func() time.Time
	maxBytes     int64
	timeout      time.Duration
	maxRedirects int
	refresh      time.Duration
	retryAfter   time.Duration
	maxIdle      time.Duration
	userAgent    string

	flights singleflight.Group
	stats   stats

	mu        sync.Mutex
	cache     map[string]*entry
	lastPrune time.Time
}

// entry is the cache of one CRL URL.
type entry struct {
	crl                *crl // the last CRL that parsed; nil before the first
	etag, lastModified string
	fetchedAt          time.Time // when crl was fetched or confirmed by a 304
	err                error     // the last fetch's failure; nil after a success
	failedAt           time.Time
	lastUsed           time.Time
}

// New returns a Checker set up by cfg.
func New(cfg Config) *Checker {
	c := &Checker{
		now: cfg.Now, maxBytes: cfg.MaxBytes, timeout: cfg.Timeout, maxRedirects: cfg.MaxRedirects,
		refresh: cfg.Refresh, retryAfter: cfg.RetryAfter, maxIdle: cfg.MaxIdle, userAgent: cfg.UserAgent,
		cache: make(map[string]*entry),
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.maxBytes <= 0 {
		c.maxBytes = DefaultMaxBytes
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxRedirects == 0 {
		c.maxRedirects = DefaultMaxRedirects
	}
	if c.refresh <= 0 {
		c.refresh = DefaultRefresh
	}
	if c.retryAfter <= 0 {
		c.retryAfter = DefaultRetryAfter
	}
	if c.maxIdle <= 0 {
		c.maxIdle = DefaultMaxIdle
	}
	if c.userAgent == "" {
		c.userAgent = "hardtls-revocation"
	}
	if cfg.Client != nil {
		c.client = *cfg.Client
	} else {
		connect := cfg.ConnectTimeout
		if connect <= 0 {
			connect = DefaultConnectTimeout
		}
		c.client.Transport = &http.Transport{
			Proxy:                  http.ProxyFromEnvironment,
			DialContext:            (&net.Dialer{Timeout: connect}).DialContext,
			TLSHandshakeTimeout:    connect,
			ResponseHeaderTimeout:  c.timeout,
			MaxResponseHeaderBytes: 64 << 10,
			MaxIdleConnsPerHost:    2,
			IdleConnTimeout:        90 * time.Second,
		}
	}
	c.client.CheckRedirect = c.checkRedirect
	return c
}

// Close closes the idle connections the Checker keeps to CRL servers.
// Call it when the Checker is no longer used, e.g. in a module's Cleanup.
// Checks after Close still work: they open new connections.
func (c *Checker) Close() { c.client.CloseIdleConnections() }

// checkRedirect follows at most maxRedirects redirects, to http and https
// URLs only, and stops at the first URL visited twice.
func (c *Checker) checkRedirect(req *http.Request, via []*http.Request) error {
	if c.maxRedirects < 0 {
		return fmt.Errorf("redirected to %s: redirects are not followed", req.URL)
	}
	if len(via) > c.maxRedirects {
		return fmt.Errorf("stopped after %d redirects, at %s", c.maxRedirects, req.URL)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("redirected to %s: only http and https are fetched", req.URL)
	}
	for _, prev := range via {
		if prev.URL.String() == req.URL.String() {
			return fmt.Errorf("redirect loop: %s was already visited", req.URL)
		}
	}
	return nil
}

// CheckChain answers the revocation status of a served chain's leaf
// (DER, leaf first, as in tls.Certificate.Certificate), finding its issuer
// in the rest of the chain.
func (c *Checker) CheckChain(ctx context.Context, chain [][]byte) Result {
	if len(chain) == 0 {
		return unknown("", errors.New("empty certificate chain"))
	}
	certs := make([]*x509.Certificate, 0, len(chain))
	for i, der := range chain {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return unknown("", fmt.Errorf("parsing certificate %d of the chain: %w", i, err))
		}
		certs = append(certs, cert)
	}
	leaf := certs[0]
	if len(leaf.CRLDistributionPoints) == 0 {
		return Result{Status: StatusAbsent}
	}
	issuer, err := IssuerInChain(leaf, certs[1:])
	if err != nil {
		return unknown("", err)
	}
	return c.Check(ctx, leaf, issuer)
}

// IssuerInChain returns the certificate among chain that issued leaf: its
// subject is leaf's issuer and its key verifies leaf's signature.
func IssuerInChain(leaf *x509.Certificate, chain []*x509.Certificate) (*x509.Certificate, error) {
	for _, cert := range chain {
		if string(cert.RawSubject) == string(leaf.RawIssuer) && leaf.CheckSignatureFrom(cert) == nil {
			return cert, nil
		}
	}
	return nil, fmt.Errorf("the issuer %q of the certificate is not in the served chain: the CRL's signature cannot be verified; fix: serve the intermediate certificate with the leaf", leaf.Issuer)
}

// Check answers leaf's revocation status from the CRLs its CRL
// Distribution Points name, each verified with issuer's key. It tries the
// http and https URLs in order and returns the first good or revoked
// answer; when none gives one, the status is unknown and Err joins the
// reasons. A certificate that names no CRL is StatusAbsent.
//
// Cancelling ctx returns at once with an unknown status; a fetch other
// callers share goes on, bounded by Config.Timeout.
func (c *Checker) Check(ctx context.Context, leaf, issuer *x509.Certificate) Result {
	return c.CheckURLs(ctx, leaf, issuer, leaf.CRLDistributionPoints)
}

// CheckURLs is Check with the CRL URLs given rather than read from leaf:
// for CAs that publish where their CRLs are (in the CCADB, say) rather
// than in each certificate. Each CRL must still be the issuer's, and an
// Issuing Distribution Point in it must name the URL it was fetched from.
func (c *Checker) CheckURLs(ctx context.Context, leaf, issuer *x509.Certificate, urls []string) Result {
	if len(urls) == 0 {
		return Result{Status: StatusAbsent}
	}
	if issuer == nil {
		return unknown("", fmt.Errorf("the issuer %q of the certificate is not known: the CRL's signature cannot be verified", leaf.Issuer))
	}
	var errs []error
	source := ""
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("CRL distribution point %q: expected an http or https URL", raw))
			continue
		}
		source = raw
		list, warning, err := c.crl(ctx, raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("CRL %s: %w", raw, err))
			continue
		}
		res := list.evaluate(raw, leaf, issuer, c.now())
		if res.Status == StatusUnknown {
			errs = append(errs, res.Err)
			continue
		}
		res.Warning = warning
		return res
	}
	return unknown(source, errors.Join(errs...))
}

// crl returns the CRL at crlURL: the cached one while it is current, else
// a fresh fetch shared with every concurrent caller for the same URL. When
// a refresh fails but the cached CRL has not reached its nextUpdate, it
// returns the cached CRL and the failure as a warning.
func (c *Checker) crl(ctx context.Context, crlURL string) (list *crl, warning, err error) {
	now := c.now()
	c.mu.Lock()
	c.pruneLocked(now)
	e := c.cache[crlURL]
	if e == nil {
		e = &entry{}
		c.cache[crlURL] = e
	}
	e.lastUsed = now
	if list, warning, err, done := c.answerLocked(e, now, false); done {
		c.mu.Unlock()
		return list, warning, err
	}
	c.mu.Unlock()

	// The fetch runs detached from ctx, bounded by c.timeout: other
	// callers may be waiting on it after this one gives up.
	fetchCtx := context.WithoutCancel(ctx)
	ch := c.flights.DoChan(crlURL, func() (any, error) {
		c.refreshEntry(fetchCtx, crlURL)
		return nil, nil
	})
	select {
	case <-ch:
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("waiting for the CRL: %w", ctx.Err())
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if e = c.cache[crlURL]; e == nil {
		return nil, nil, errors.New("the CRL left the cache while it was fetched")
	}
	list, warning, err, _ = c.answerLocked(e, c.now(), true)
	return list, warning, err
}

// answerLocked decides from e alone, if it can: done is false when the
// CRL must be fetched. After a fetch (fetched is true) it always decides.
func (c *Checker) answerLocked(e *entry, now time.Time, fetched bool) (list *crl, warning, err error, done bool) {
	current := e.crl != nil && now.Before(e.crl.rl.NextUpdate)
	switch {
	case e.err != nil && (fetched || now.Before(e.failedAt.Add(c.retryAfter))):
		if current {
			return e.crl, fmt.Errorf("refreshing the CRL failed, using the copy fetched at %s: %w", e.fetchedAt.UTC().Format(time.RFC3339), e.err), nil, true
		}
		return nil, nil, e.err, true
	case e.crl == nil:
		if fetched {
			return nil, nil, errors.New("no CRL was fetched"), true
		}
		return nil, nil, nil, false
	case fetched,
		current && now.Before(e.fetchedAt.Add(c.refresh)),
		// A stale CRL is asked for again only every retryAfter: its
		// evaluation says it is stale meanwhile.
		!current && now.Before(e.fetchedAt.Add(c.retryAfter)):
		return e.crl, nil, nil, true
	}
	return nil, nil, nil, false
}

// refreshEntry fetches crlURL, with the validators of the cached copy,
// and records the outcome in the cache.
func (c *Checker) refreshEntry(ctx context.Context, crlURL string) {
	c.mu.Lock()
	e := c.cache[crlURL]
	if e == nil { // pruned meanwhile
		e = &entry{}
		c.cache[crlURL] = e
	}
	var etag, lastModified string
	if e.crl != nil {
		etag, lastModified = e.etag, e.lastModified
	}
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.fetch(ctx, crlURL, etag, lastModified)
	now := c.now()

	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err != nil:
		c.stats.failures.Add(1)
		e.err, e.failedAt = err, now
	case resp.notModified:
		c.stats.notModified.Add(1)
		e.fetchedAt, e.err = now, nil
	case e.crl != nil && olderThan(resp.crl, e.crl):
		// A CA never goes back: an older CRL is a replay (or a stale
		// mirror) that could hide revocations the cached one lists.
		c.stats.failures.Add(1)
		e.err, e.failedAt = fmt.Errorf("the server sent CRL number %v of %s, older than the cached number %v of %s",
			resp.crl.rl.Number, resp.crl.rl.ThisUpdate.UTC().Format(time.RFC3339), e.crl.rl.Number, e.crl.rl.ThisUpdate.UTC().Format(time.RFC3339)), now
	default:
		c.stats.ok.Add(1)
		e.crl, e.etag, e.lastModified = resp.crl, resp.etag, resp.lastModified
		e.fetchedAt, e.err = now, nil
	}
}

// olderThan reports whether a was issued before b, by CRL number when
// both have one (RFC 5280 §5.2.3: numbers increase), else by thisUpdate.
func olderThan(a, b *crl) bool {
	if a.rl.Number != nil && b.rl.Number != nil {
		return a.rl.Number.Cmp(b.rl.Number) < 0
	}
	return a.rl.ThisUpdate.Before(b.rl.ThisUpdate)
}

// pruneLocked drops the CRLs no check has asked for in maxIdle, at most
// once per maxIdle/4.
func (c *Checker) pruneLocked(now time.Time) {
	if now.Sub(c.lastPrune) < c.maxIdle/4 {
		return
	}
	c.lastPrune = now
	for crlURL, e := range c.cache {
		if now.Sub(e.lastUsed) > c.maxIdle {
			delete(c.cache, crlURL)
		}
	}
}

// Stats counts a Checker's work since it was made.
type Stats struct {
	// Fetches is the number of CRL requests sent; OK is how many of them
	// brought a CRL that was kept, NotModified how many the server
	// answered 304, Failures how many failed (the rest are in flight).
	Fetches, OK, NotModified, Failures int64
	// Bytes is the number of CRL body bytes read.
	Bytes int64
	// Cached is the number of CRL URLs in the cache.
	Cached int
}

type stats struct {
	fetches, ok, notModified, failures, bytes atomic.Int64
}

// Stats returns the Checker's counters, for metrics.
func (c *Checker) Stats() Stats {
	c.mu.Lock()
	cached := len(c.cache)
	c.mu.Unlock()
	return Stats{
		Fetches: c.stats.fetches.Load(), OK: c.stats.ok.Load(), NotModified: c.stats.notModified.Load(),
		Failures: c.stats.failures.Load(), Bytes: c.stats.bytes.Load(), Cached: cached,
	}
}
