package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// failureKind is where a lost request's last attempt stood, from
// net/http/httptrace: whether it got a connection, and whether that
// connection was a kept-alive one.
type failureKind int

const (
	// failConnect: the attempt got no connection; the dial or the TLS
	// handshake failed (a reset during the handshake lands here).
	failConnect failureKind = iota
	// failFresh: the attempt failed on a connection opened for it.
	failFresh
	// failReused: the attempt failed on a kept-alive connection, and
	// Go's transport did not send the request again.
	failReused
	numKinds
)

func (k failureKind) String() string {
	return [...]string{"connect", "fresh", "reused"}[k]
}

// reloadStats counts what the clients saw during one pass of reloads.
type reloadStats struct {
	name string
	ok   atomic.Int64
	// retried counts the answers that took Go's transport more than one
	// attempt.
	retried  atomic.Int64
	failed   [numKinds]atomic.Int64
	firstErr [numKinds]atomic.Value
	// other counts the failures, of any kind, that are not a connection
	// closed or reset by the peer (a timeout, a TLS error).
	other      atomic.Int64
	firstOther atomic.Value
	// wrong counts answers that arrived but were wrong: a status other
	// than 200, a body of neither good config, or an HSTS header that is
	// not exactly the one of the config that wrote the body.
	wrong      atomic.Int64
	firstWrong atomic.Value

	mu     sync.Mutex
	bodies map[string]int
	// errors counts the failures by kind, client and error text (numbers
	// masked), for the log.
	errors map[string]int
}

var digits = regexp.MustCompile(`[0-9]+`)

func (s *reloadStats) fail(kind failureKind, client string, err error) {
	s.failed[kind].Add(1)
	s.firstErr[kind].CompareAndSwap(nil, err.Error())
	s.mu.Lock()
	s.errors[fmt.Sprintf("%s/%s: %s", kind, client, digits.ReplaceAllString(err.Error(), "N"))]++
	s.mu.Unlock()
	if !connectionLost(err) {
		s.other.Add(1)
		s.firstOther.CompareAndSwap(nil, err.Error())
	}
}

func (s *reloadStats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d ok (%d retried by the transport), %d wrong", s.name, s.ok.Load(), s.retried.Load(), s.wrong.Load())
	for k := range numKinds {
		fmt.Fprintf(&b, ", %d %s", s.failed[k].Load(), k)
		if e := s.firstErr[k].Load(); e != nil {
			fmt.Fprintf(&b, " (first: %s)", e)
		}
	}
	fmt.Fprintf(&b, "; %d not a lost connection", s.other.Load())
	if e := s.firstOther.Load(); e != nil {
		fmt.Fprintf(&b, " (first: %s)", e)
	}
	if e := s.firstWrong.Load(); e != nil {
		fmt.Fprintf(&b, "; first wrong: %s", e)
	}
	s.mu.Lock()
	fmt.Fprintf(&b, "; bodies %v", s.bodies)
	for e, n := range s.errors {
		fmt.Fprintf(&b, "\n\t%d× %s", n, e)
	}
	s.mu.Unlock()
	return b.String()
}

// reloadSubject is one way of serving the HSTS header: a site for a
// max-age and body, and a config that Caddy refuses at provisioning.
type reloadSubject struct {
	name string
	site func(maxAge int, body string) string
	bad  string
}

// TestReloadUnderLoad sends steady traffic while the config is reloaded
// 20 times through the admin /load, alternating two valid configs with a
// refused one in between, and does it twice for hardtls's hsts and twice
// for stock Caddy's header directive setting the same value, in the same
// run, interleaved (stock, hardtls, stock, hardtls).
//
// Every answer must be right, for both: status 200, the body of a good
// config (never the refused one's) and exactly the HSTS header of the
// config that wrote that body. One wrong answer fails the test.
//
// Requests that get no answer at all are lost by stock Caddy too, at
// each reload on Linux; they are counted apart by where they failed (see
// docs/testing.md for the measurements):
//
//   - connect: the connection never reached a server. Caddy opens each new
//     config's listener beside the old one (SO_REUSEPORT) and closes the old
//     one once the new config runs; Linux resets the connections still
//     queued on the closed socket ("connection reset by peer" at connect or
//     in the TLS handshake). With net.ipv4.tcp_migrate_req=1 the kernel
//     moves them to the remaining listener and this kind disappears.
//   - fresh: EOF on a new connection before any answer. Go's http.Server
//     reads the first request of a connection it accepted just before
//     Shutdown, sees that it is shutting down and closes the connection
//     unanswered (net/http server.go; golang/go#75591). Clients that open a
//     connection per request see it at nearly every reload.
//   - reused: a kept-alive connection failed and the transport did not
//     send the request again. Go's transport, like Chromium, resends an
//     idempotent request when a kept-alive connection is closed under it
//     (those count as "retried", not failed).
//
// After the first two kinds neither Chromium nor Go's transport send the
// request again (both resend only what failed over a kept-alive
// connection: HttpNetworkTransaction::ShouldResendRequest,
// persistConn.shouldRetryRequest); their users see an error, with stock
// Caddy as with hardtls.
//
// hardtls is held to stock per kind: at most twice stock's count plus 10.
// Over 20 runs under CPU load, stock lost 49 connect and 511 fresh
// requests of 969,624, hardtls 39 and 498 of 978,463, none reused, none
// otherwise; per run 0 to 6 connect and 17 to 32 fresh for either, and
// in another series hardtls 7 connect where stock had 0. Such counts vary
// too much for "no more than stock", taken literally, not to fail on
// chance alone; a defect of ours that lost a request per reload (40 per
// run) or per request would be far above the bound. A failure that is not
// a closed or reset connection (a timeout, a TLS error) is held to
// stock's count exactly.
func TestReloadUnderLoad(t *testing.T) {
	hardtls := reloadSubject{
		name: "hardtls hsts",
		site: func(maxAge int, body string) string {
			return caddyfile("local_certs", fmt.Sprintf("localhost {\n\thsts %d\n\trespond %q\n}\n", maxAge, body))
		},
		bad: caddyfile("local_certs", "localhost {\n\thsts 600 {\n\t\tpreload\n\t}\n\trespond \"bad\"\n}\n"),
	}
	stock := reloadSubject{
		name: "stock header",
		site: func(maxAge int, body string) string {
			return caddyfile("local_certs", fmt.Sprintf("localhost {\n\theader Strict-Transport-Security \"max-age=%d; includeSubDomains\"\n\trespond %q\n}\n", maxAge, body))
		},
		bad: caddyfile("local_certs", "localhost {\n\theader X-Bad \"(\" \"y\"\n\trespond \"bad\"\n}\n"),
	}

	var stockTotal, hardtlsTotal [numKinds]int64
	var stockOther, hardtlsOther int64
	for round := range 2 {
		for _, subject := range []reloadSubject{stock, hardtls} {
			s := reloadPass(t, subject)
			t.Logf("round %d, %v", round+1, s)
			if n := s.wrong.Load(); n > 0 {
				t.Errorf("%s: %d wrong answers; first: %v", s.name, n, s.firstWrong.Load())
			}
			s.mu.Lock()
			if s.bodies["A"] == 0 || s.bodies["B"] == 0 || s.bodies["bad"] != 0 {
				t.Errorf("%s: answers by config = %v; want both A and B and never the refused one", s.name, s.bodies)
			}
			s.mu.Unlock()
			if s.ok.Load() < 200 {
				t.Errorf("%s: only %d requests completed; the load was not steady", s.name, s.ok.Load())
			}
			total, other := &stockTotal, &stockOther
			if subject.name == hardtls.name {
				total, other = &hardtlsTotal, &hardtlsOther
			}
			for k := range numKinds {
				total[k] += s.failed[k].Load()
			}
			*other += s.other.Load()
		}
	}
	for k := range numKinds {
		t.Logf("%s failures: stock %d, hardtls %d", k, stockTotal[k], hardtlsTotal[k])
		if bound := 2*stockTotal[k] + 10; hardtlsTotal[k] > bound {
			t.Errorf("%s failures: hardtls %d, stock %d; want at most 2×stock+10 = %d", k, hardtlsTotal[k], stockTotal[k], bound)
		}
	}
	if hardtlsOther > stockOther {
		t.Errorf("failures other than a closed or reset connection: hardtls %d, stock %d", hardtlsOther, stockOther)
	}
}

// reloadPass loads subject's first config, then reloads 20 times under
// the traffic of four clients: two on one shared HTTP/2 client, one on an
// HTTP/1.1 keep-alive client, one opening a new TLS connection for every
// request.
func reloadPass(t *testing.T, subject reloadSubject) *reloadStats {
	t.Helper()
	configs := []string{subject.site(1000, "A"), subject.site(2000, "B")}
	wantHeader := map[string]string{"A": "max-age=1000; includeSubDomains", "B": "max-age=2000; includeSubDomains"}
	load(t, configs[0], "caddyfile")
	roots := localRoot(t)
	waitCert(t, "localhost", roots)
	url := "https://localhost:" + strconv.Itoa(httpsPort) + "/"

	s := &reloadStats{name: subject.name, bodies: map[string]int{}, errors: map[string]int{}}
	h2 := reloadClient(roots, true, false)
	clients := []struct {
		name string
		*http.Client
	}{{"h2", h2}, {"h2", h2}, {"h1", reloadClient(roots, false, false)}, {"h1-new", reloadClient(roots, false, true)}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				reloadRequest(c.Client, c.name, url, wantHeader, s)
			}
		})
	}

	for i := 1; i <= 20; i++ {
		time.Sleep(100 * time.Millisecond)
		if status, body := postLoad(t, configs[i%2], "caddyfile"); status != http.StatusOK {
			t.Errorf("%s: reload %d: status %d: %s", subject.name, i, status, body)
		}
		time.Sleep(100 * time.Millisecond)
		if status, _ := postLoad(t, subject.bad, "caddyfile"); status == http.StatusOK {
			t.Errorf("%s: reload %d: the invalid config was accepted", subject.name, i)
		}
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	for _, c := range clients {
		c.CloseIdleConnections()
	}
	return s
}

// reloadRequest sends one GET and counts its outcome in s.
func reloadRequest(c *http.Client, client, url string, wantHeader map[string]string, s *reloadStats) {
	// Go's transport sends an idempotent request again when a kept-alive
	// connection fails under it (as browsers do), so one request may make
	// several attempts; GetConn starts each one, and the kind of a failure
	// is where its last attempt stood.
	var attempts, gotConn, reused atomic.Int32
	trace := &httptrace.ClientTrace{
		GetConn: func(string) {
			attempts.Add(1)
			gotConn.Store(0)
		},
		GotConn: func(info httptrace.GotConnInfo) {
			gotConn.Store(1)
			reused.Store(0)
			if info.Reused {
				reused.Store(1)
			}
		},
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, url, nil)
	if err != nil {
		panic(err)
	}
	kind := func() failureKind {
		switch {
		case gotConn.Load() == 0:
			return failConnect
		case reused.Load() == 1:
			return failReused
		}
		return failFresh
	}
	resp, err := c.Do(req)
	if err != nil {
		s.fail(kind(), client, err)
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		s.fail(kind(), client, err)
		return
	}
	if attempts.Load() > 1 {
		s.retried.Add(1)
	}
	sts := resp.Header.Values("Strict-Transport-Security")
	want, known := wantHeader[string(body)]
	if resp.StatusCode != http.StatusOK || !known || len(sts) != 1 || sts[0] != want {
		s.wrong.Add(1)
		s.firstWrong.CompareAndSwap(nil, fmt.Sprintf("status %d, body %q, Strict-Transport-Security %q", resp.StatusCode, body, sts))
	} else {
		s.ok.Add(1)
	}
	s.mu.Lock()
	s.bodies[string(body)]++
	s.mu.Unlock()
}

// reloadClient returns a client like client's, over HTTP/2 or HTTP/1.1,
// keeping connections alive or opening one per request.
func reloadClient(roots *x509.CertPool, http2, fresh bool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			return dialer.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		},
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2: http2,
		DisableKeepAlives: fresh,
	}
	if !http2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: tr}
}
