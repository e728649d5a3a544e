package revocation

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hardtls/caddy-hardtls/internal/testpki"
)

func TestCheckerGoodThenRevoked(t *testing.T) {
	ca := testpki.NewCRLCA(t, "CRL test CA", nil)
	srv := ca.ServeCRL(t)
	leaf, issuer := leafOf(t, ca, srv.URL)
	clk := newClock()
	c := New(Config{Now: clk.Now, Refresh: time.Minute})
	ctx := context.Background()

	res := c.Check(ctx, leaf, issuer)
	if res.Status != StatusGood || res.Source != srv.URL || res.Warning != nil {
		t.Fatalf("first check: %s", res)
	}
	// Within Refresh: the cached CRL answers, the server is not asked.
	c.Check(ctx, leaf, issuer)
	if srv.Requests() != 1 {
		t.Fatalf("%d requests after two checks within Refresh, want 1", srv.Requests())
	}
	// After Refresh, unchanged: a conditional request, answered 304.
	clk.Advance(2 * time.Minute)
	if res := c.Check(ctx, leaf, issuer); res.Status != StatusGood {
		t.Fatalf("after refresh: %s", res)
	}
	if srv.Requests() != 2 || srv.Served() != 1 {
		t.Fatalf("requests %d, bodies served %d; want 2 and 1 (a 304)", srv.Requests(), srv.Served())
	}

	srv.Revoke(t, leaf.SerialNumber, int(ReasonKeyCompromise))
	if res := c.Check(ctx, leaf, issuer); res.Status != StatusGood {
		t.Fatalf("revocation seen before Refresh elapsed: %s", res)
	}
	clk.Advance(2 * time.Minute)
	res = c.Check(ctx, leaf, issuer)
	if res.Status != StatusRevoked || res.Reason != ReasonKeyCompromise || res.RevokedAt.IsZero() {
		t.Fatalf("after revocation: %s", res)
	}
	if !strings.HasPrefix(res.String(), "revoked at ") || !strings.Contains(res.String(), "(keyCompromise) per "+srv.URL) {
		t.Errorf("String() = %q", res.String())
	}
	c.Close()
	st := c.Stats()
	if st.Fetches != 3 || st.OK != 2 || st.NotModified != 1 || st.Failures != 0 || st.Bytes == 0 || st.Cached != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestCheckerNoCRL(t *testing.T) {
	ca := testpki.NewCRLCA(t, "CRL test CA", nil)
	plain := ca.Issue(t, testpki.Leaf{Names: []string{"crl.example"}})
	c := New(Config{})
	if res := c.Check(context.Background(), plain.Leaf, ca.Cert); res.Status != StatusAbsent {
		t.Errorf("Check = %s", res)
	}
	if res := c.CheckChain(context.Background(), plain.Certificate); res.Status != StatusAbsent {
		t.Errorf("CheckChain = %s", res)
	}
	if st := c.Stats(); st.Fetches != 0 {
		t.Errorf("%d fetches for a certificate that names no CRL", st.Fetches)
	}
}

func TestCheckChain(t *testing.T) {
	root := testpki.NewCRLCA(t, "CRL test root", nil)
	srv := root.ServeCRL(t)
	leaf := root.IssueWith(t, testpki.Leaf{Names: []string{"crl.example"}}, testpki.WithCRL(srv.URL))
	c := New(Config{})
	if res := c.CheckChain(context.Background(), leaf.Certificate); res.Status != StatusGood {
		t.Errorf("CheckChain = %s", res)
	}
	// The issuer left out of the chain: the CRL cannot be verified.
	res := c.CheckChain(context.Background(), leaf.Certificate[:1])
	wantUnknown(t, res, `the issuer "CN=CRL test root" of the certificate is not in the served chain`)
	wantUnknown(t, c.CheckChain(context.Background(), [][]byte{{1, 2, 3}}), "parsing certificate 0 of the chain")
	wantUnknown(t, c.CheckChain(context.Background(), nil), "empty certificate chain")
}

func TestCheckerDistributionPoints(t *testing.T) {
	ca := testpki.NewCRLCA(t, "CRL test CA", nil)
	srv := ca.ServeCRL(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	defer dead.Close()
	c := New(Config{})
	ctx := context.Background()

	leaf, issuer := leafOf(t, ca, "ldap://ldap.example/cn=CRL", dead.URL+"/crl", srv.URL)
	res := c.Check(ctx, leaf, issuer)
	if res.Status != StatusGood || res.Source != srv.URL {
		t.Fatalf("Check = %s, want good from the third point", res)
	}

	leaf, issuer = leafOf(t, ca, "ldap://ldap.example/cn=CRL")
	wantUnknown(t, c.Check(ctx, leaf, issuer), `CRL distribution point "ldap://ldap.example/cn=CRL": expected an http or https URL`)

	leaf, _ = leafOf(t, ca, srv.URL)
	wantUnknown(t, c.Check(ctx, leaf, nil), "the CRL's signature cannot be verified")
}

// hostile is a CRL server that misbehaves, for TestCheckerHostileServers.
type hostile struct {
	name    string
	handler func(t *testing.T, w http.ResponseWriter, r *http.Request)
	cfg     Config
	wantErr string
}

// TestCheckerHostileServers points a certificate at CRL servers that lie,
// stall, flood or answer something else, each of which would list the
// certificate as revoked if its CRL were believed. Every one must give an
// unknown status with a reason, never a revocation.
func TestCheckerHostileServers(t *testing.T) {
	ca := testpki.NewCRLCA(t, "CRL test CA", nil)
	var leafSerial atomic.Pointer[string]
	serve := func(der []byte) func(*testing.T, http.ResponseWriter, *http.Request) {
		return func(_ *testing.T, w http.ResponseWriter, _ *http.Request) { w.Write(der) }
	}
	// The leaf's serial is known only once the leaf exists, after the
	// server's URL: handlers sign their CRLs on the first request.
	revokingCRL := func(signer *testpki.CA, c testpki.CRL) func(*testing.T, http.ResponseWriter, *http.Request) {
		var once sync.Once
		var der []byte
		return func(t *testing.T, w http.ResponseWriter, _ *http.Request) {
			once.Do(func() {
				leaf := parseSerial(t, *leafSerial.Load())
				c.Revoked = append(c.Revoked, revokedEntry(leaf, ReasonKeyCompromise))
				der = signer.SignCRL(t, c)
			})
			w.Write(der)
		}
	}
	tamperedCRL := func(t *testing.T, w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		revokingCRL(ca, testpki.CRL{})(t, rec, r)
		der := rec.Body.Bytes()
		der[len(der)-1] ^= 0xFF
		w.Write(der)
	}
	now := time.Now()

	tests := []hostile{
		// The control: the same kind of CRL, well signed and fresh, revokes.
		{name: "control", handler: revokingCRL(ca, testpki.CRL{})},
		{name: "wrong signature", handler: tamperedCRL, wantErr: "CRL signature does not verify"},
		{name: "expired nextUpdate", handler: revokingCRL(ca, testpki.CRL{ThisUpdate: now.Add(-8 * 24 * time.Hour), NextUpdate: now.Add(-24 * time.Hour)}),
			wantErr: "is stale: its nextUpdate"},
		{name: "garbage DER", handler: serve([]byte("\x30\x82\x01\x00garbage")), wantErr: "expected a DER CRL (RFC 5280 §5.1), found 11 bytes starting 30820100"},
		{name: "HTML page", handler: func(_ *testing.T, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html><body>Please log in</body></html>")
		}, wantErr: `parsing the body (Content-Type "text/html"): expected a DER CRL`},
		{name: "404", handler: func(_ *testing.T, w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			wantErr: `the server answered 404 Not Found (Content-Type "text/plain; charset=utf-8"), expected 200 OK with a CRL`},
		{name: "500", handler: func(_ *testing.T, w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
		},
			wantErr: "the server answered 500 Internal Server Error"},
		{name: "empty body", handler: serve(nil), wantErr: "found an empty body"},
		{name: "304 without validators", handler: func(_ *testing.T, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotModified) },
			wantErr: "the server answered 304 Not Modified to a request without validators"},
		{name: "redirect loop", handler: func(_ *testing.T, w http.ResponseWriter, r *http.Request) {
			next := map[string]string{"/crl": "/a", "/a": "/b", "/b": "/a"}[r.URL.Path]
			http.Redirect(w, r, next, http.StatusFound)
		}, wantErr: "redirect loop: http://"},
		{name: "endless redirects", handler: func(_ *testing.T, w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.Path+"x", http.StatusFound)
		}, wantErr: "stopped after 3 redirects"},
		{name: "redirects forbidden", cfg: Config{MaxRedirects: -1}, handler: func(_ *testing.T, w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusMovedPermanently)
		}, wantErr: "redirects are not followed"},
		{name: "redirect to another scheme", handler: func(_ *testing.T, w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "ftp://crl.example/crl", http.StatusFound)
		}, wantErr: "redirected to ftp://crl.example/crl: only http and https are fetched"},
		{name: "Content-Length over the limit", cfg: Config{MaxBytes: 1 << 20}, handler: func(_ *testing.T, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "104857600")
			w.WriteHeader(http.StatusOK)
			// Write nothing: the client must refuse on the header alone.
		}, wantErr: "the CRL is 104857600 bytes (Content-Length), over the limit of 1048576"},
		{name: "chunked body over the limit", cfg: Config{MaxBytes: 1 << 20}, handler: stream(100<<20, nil),
			wantErr: "the CRL is over the limit of 1048576 bytes"},
		{name: "header flood", handler: func(_ *testing.T, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Junk", strings.Repeat("j", 1<<20))
			w.WriteHeader(http.StatusOK)
		}, wantErr: "server response headers exceeded 65536 bytes"},
		{name: "slow trickle", cfg: Config{Timeout: 300 * time.Millisecond}, handler: trickle,
			wantErr: "context deadline exceeded"},
		{name: "gzip bomb", cfg: Config{MaxBytes: 1 << 20}, handler: gzipBomb(4 << 20),
			wantErr: "the CRL is over the limit of 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tt.handler(t, w, r) }))
			defer srv.Close()
			leaf, issuer := leafOf(t, ca, srv.URL+"/crl")
			serial := leaf.SerialNumber.Text(16)
			leafSerial.Store(&serial)

			res := New(tt.cfg).Check(context.Background(), leaf, issuer)
			if tt.wantErr == "" {
				if res.Status != StatusRevoked {
					t.Fatalf("control: status %s, want revoked", res)
				}
				return
			}
			wantUnknown(t, res, tt.wantErr)
			if res.Source != srv.URL+"/crl" {
				t.Errorf("source = %q", res.Source)
			}
		})
	}
}

// gzipBomb sends n bytes of zeros gzip-compressed, which Go's transport
// decompresses on the fly: the size limit must hold on what it yields.
func gzipBomb(n int) func(*testing.T, http.ResponseWriter, *http.Request) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(make([]byte, n))
	zw.Close()
	return func(_ *testing.T, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(buf.Bytes())
	}
}

// parseSerial reads a hex serial number.
func parseSerial(t *testing.T, hex string) *big.Int {
	t.Helper()
	n, ok := new(big.Int).SetString(hex, 16)
	if !ok {
		t.Fatalf("bad serial %q", hex)
	}
	return n
}

// trickle sends a byte every 50ms until the client goes away.
func trickle(_ *testing.T, w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusOK)
	for {
		if _, err := w.Write([]byte{0x30}); err != nil {
			return
		}
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stream sends n bytes of zeros from one 32 KiB buffer, without a
// Content-Length, and adds to sent what it managed to write before the
// client hung up.
func stream(n int64, sent *atomic.Int64) func(*testing.T, http.ResponseWriter, *http.Request) {
	return func(_ *testing.T, w http.ResponseWriter, _ *http.Request) {
		chunk := make([]byte, 32<<10)
		w.WriteHeader(http.StatusOK)
		for left := n; left > 0; left -= int64(len(chunk)) {
			m, err := w.Write(chunk[:min(int64(len(chunk)), left)])
			if sent != nil {
				sent.Add(int64(m))
			}
			if err != nil {
				return
			}
		}
	}
}

func TestCheckerSharesOneFetch(t *testing.T) {
	ca := testpki.NewCRLCA(t, "CRL test CA", nil)
	release := make(chan struct{})
	var requests atomic.Int64
	der := ca.SignCRL(t, testpki.CRL{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		<-release
		w.Write(der)
	}))
	defer srv.Close()

	c := New(Config{})
	const n = 20
	results := make([]Result, n)
	var wg sync.WaitGroup
	for i := range n {
		leaf, issuer := leafOf(t, ca, srv.URL+"/crl")
		wg.Go(func() { results[i] = c.Check(context.Background(), leaf, issuer) })
	}
	// Let the checks reach the fetch; any that come later find the cache,
	// so this wait makes the test stronger, never flaky.
	time.Sleep(100 * time.Millisecond)
	close(release)
	wg.Wait()
	for i, res := range results {
		if res.Status != StatusGood {
			t.Errorf("check %d: %s", i, res)
		}
	}
	if got := requests.Load(); got != 1 {
		t.Errorf("%d requests for %d certificates naming one CRL, want 1", got, n)
	}
}

func TestCheckerCallerCancels(t *testing.T) {
	ca := testpki.NewCRLCA(t, "CRL test CA", nil)
	release := make(chan struct{})
	der := ca.SignCRL(t, testpki.CRL{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		<-release
		w.Write(der)
	}))
	defer srv.Close()
	leaf, issuer := leafOf(t, ca, srv.URL+"/crl")
	c := New(Config{})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := c.Check(ctx, leaf, issuer)
	wantUnknown(t, res, "waiting for the CRL: context canceled")
	if !errors.Is(res.Err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", res.Err)
	}
	// The fetch the cancelled caller started goes on; the next caller
	// gets its answer.
	close(release)
	if res := c.Check(context.Background(), leaf, issuer); res.Status != StatusGood {
		t.Errorf("after the fetch: %s", res)
	}
}

func TestCheckerRetryAfterFailure(t *testing.T) {
	ca := testpki.NewCRLCA(t, "CRL test CA", nil)
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.NotFound(w, r)
	}))
	defer srv.Close()
	leaf, issuer := leafOf(t, ca, srv.URL+"/crl")
	clk := newClock()
	c := New(Config{Now: clk.Now, RetryAfter: time.Minute})
	for range 3 {
		wantUnknown(t, c.Check(context.Background(), leaf, issuer), "404 Not Found")
	}
	if got := requests.Load(); got != 1 {
		t.Errorf("%d requests within RetryAfter, want 1", got)
	}
	clk.Advance(2 * time.Minute)
	c.Check(context.Background(), leaf, issuer)
	if got := requests.Load(); got != 2 {
		t.Errorf("%d requests after RetryAfter, want 2", got)
	}
	if st := c.Stats(); st.Failures != 2 {
		t.Errorf("stats = %+v", st)
	}
}

// TestCheckerKeepsCurrentCRL: a refresh that fails, or that brings an
// older CRL, keeps the cached CRL while it is current, with a warning.
func TestCheckerKeepsCurrentCRL(t *testing.T) {
	ca := testpki.NewCRLCA(t, "CRL test CA", nil)
	var mu sync.Mutex
	var body []byte
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(status)
		w.Write(body)
	}))
	defer srv.Close()
	set := func(code int, der []byte) {
		mu.Lock()
		status, body = code, der
		mu.Unlock()
	}
	leaf, issuer := leafOf(t, ca, srv.URL+"/crl")
	clk := newClock()
	c := New(Config{Now: clk.Now, Refresh: time.Minute})
	ctx := context.Background()

	set(http.StatusOK, ca.SignCRL(t, testpki.CRL{Number: 5, Revoked: []x509.RevocationListEntry{revokedEntry(leaf.SerialNumber, ReasonSuperseded)}}))
	if res := c.Check(ctx, leaf, issuer); res.Status != StatusRevoked {
		t.Fatalf("first check: %s", res)
	}

	set(http.StatusServiceUnavailable, nil)
	clk.Advance(2 * time.Minute)
	res := c.Check(ctx, leaf, issuer)
	if res.Status != StatusRevoked || res.Warning == nil || !strings.Contains(res.Warning.Error(), "refreshing the CRL failed, using the copy fetched at") {
		t.Fatalf("server down: %s", res)
	}

	// A replay of an older CRL, from before the revocation.
	set(http.StatusOK, ca.SignCRL(t, testpki.CRL{Number: 4}))
	clk.Advance(10 * time.Minute)
	res = c.Check(ctx, leaf, issuer)
	if res.Status != StatusRevoked || res.Warning == nil || !strings.Contains(res.Warning.Error(), "the server sent CRL number 4") {
		t.Fatalf("replayed CRL: %s", res)
	}

	// Past the cached CRL's nextUpdate, with the server still down: unknown.
	set(http.StatusServiceUnavailable, nil)
	clk.Advance(25 * time.Hour)
	wantUnknown(t, c.Check(ctx, leaf, issuer), "503 Service Unavailable")
}

func TestCheckerStaleCRLAskedAgainAfterRetryAfter(t *testing.T) {
	ca := testpki.NewCRLCA(t, "CRL test CA", nil)
	var requests atomic.Int64
	der := ca.SignCRL(t, testpki.CRL{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		w.Write(der)
	}))
	defer srv.Close()
	leaf, issuer := leafOf(t, ca, srv.URL+"/crl")
	clk := newClock()
	c := New(Config{Now: clk.Now, RetryAfter: 10 * time.Minute})
	clk.Advance(48 * time.Hour) // the server's CRL is stale from the start
	for range 3 {
		wantUnknown(t, c.Check(context.Background(), leaf, issuer), "is stale")
	}
	if got := requests.Load(); got != 1 {
		t.Errorf("%d requests for a stale CRL within RetryAfter, want 1", got)
	}
	clk.Advance(11 * time.Minute)
	c.Check(context.Background(), leaf, issuer)
	if got := requests.Load(); got != 2 {
		t.Errorf("%d requests after RetryAfter, want 2", got)
	}
}

func TestCheckerFollowsRedirect(t *testing.T) {
	ca := testpki.NewCRLCA(t, "CRL test CA", nil)
	var der atomic.Pointer[[]byte]
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(*der.Load()) }))
	defer back.Close()
	front := httptest.NewServer(http.RedirectHandler(back.URL+"/shard-1.crl", http.StatusFound))
	defer front.Close()
	leaf, issuer := leafOf(t, ca, front.URL+"/crl")

	// The CRL names the URL the certificate names: good.
	crl := ca.SignCRL(t, testpki.CRL{IDP: []string{front.URL + "/crl"}})
	der.Store(&crl)
	if res := New(Config{}).Check(context.Background(), leaf, issuer); res.Status != StatusGood || res.Source != front.URL+"/crl" {
		t.Fatalf("through a redirect: %s", res)
	}
	// The CRL names only where it was redirected to: it says it is
	// another CRL than the one the certificate points at.
	crl = ca.SignCRL(t, testpki.CRL{IDP: []string{back.URL + "/shard-1.crl"}})
	der.Store(&crl)
	wantUnknown(t, New(Config{}).Check(context.Background(), leaf, issuer), "says it is the CRL of ["+back.URL+"/shard-1.crl]")
}

func TestCheckerPrunesIdleCRLs(t *testing.T) {
	ca := testpki.NewCRLCA(t, "CRL test CA", nil)
	a, b := ca.ServeCRL(t), ca.ServeCRL(t)
	clk := newClock()
	c := New(Config{Now: clk.Now, MaxIdle: time.Hour})
	leafA, issuer := leafOf(t, ca, a.URL)
	leafB, _ := leafOf(t, ca, b.URL)
	c.Check(context.Background(), leafA, issuer)
	c.Check(context.Background(), leafB, issuer)
	if got := c.Stats().Cached; got != 2 {
		t.Fatalf("cached = %d, want 2", got)
	}
	for range 4 { // b idle for 2h, a asked for every 30m
		clk.Advance(30 * time.Minute)
		c.Check(context.Background(), leafA, issuer)
	}
	if got := c.Stats().Cached; got != 1 {
		t.Errorf("cached = %d after b was idle past MaxIdle, want 1", got)
	}
}

// TestCheckerURLsGiven: CRL URLs known from elsewhere (a CA's disclosure
// in the CCADB) check a certificate that names none; the CRL must still
// be its issuer's, and its Issuing Distribution Point the URL asked.
func TestCheckerURLsGiven(t *testing.T) {
	ca := testpki.NewCRLCA(t, "CRL test CA", nil)
	srv := ca.ServeCRL(t)
	plain := ca.Issue(t, testpki.Leaf{Names: []string{"crl.example"}})
	c := New(Config{Refresh: time.Nanosecond})
	ctx := context.Background()
	if res := c.CheckURLs(ctx, plain.Leaf, ca.Cert, nil); res.Status != StatusAbsent {
		t.Errorf("no URL: %s", res)
	}
	if res := c.CheckURLs(ctx, plain.Leaf, ca.Cert, []string{srv.URL}); res.Status != StatusGood || res.Source != srv.URL {
		t.Fatalf("given URL: %s", res)
	}
	srv.Revoke(t, plain.Leaf.SerialNumber, int(ReasonKeyCompromise))
	if res := c.CheckURLs(ctx, plain.Leaf, ca.Cert, []string{srv.URL}); res.Status != StatusRevoked {
		t.Fatalf("given URL after the revocation: %s", res)
	}
	// Another CA's CRL at a URL given for this one revokes nothing.
	other := testpki.NewCRLCA(t, "other CA", nil)
	otherSrv := other.ServeCRL(t)
	otherSrv.Revoke(t, plain.Leaf.SerialNumber, int(ReasonKeyCompromise))
	wantUnknown(t, c.CheckURLs(ctx, plain.Leaf, ca.Cert, []string{otherSrv.URL}), `is issued by "CN=other CA", not by the certificate's issuer`)
}
