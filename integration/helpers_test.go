package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The helpers every test file shares, one of each: waiting (poll,
// eventually), scraping /metrics (scrape, metrics.value), running openssl
// (runOpenSSL) and dialing TLS (dialTLS, handshake).

// poll calls cond until it reports done or wait has passed, and returns
// whether it was done and what it last reported. cond runs at least once,
// and once more after wait has passed when it was not done before; the
// pauses between calls start at 20 ms and double up to 250 ms.
func poll(wait time.Duration, cond func() (done bool, last string)) (bool, string) {
	deadline := time.Now().Add(wait)
	pause := 20 * time.Millisecond
	for {
		done, last := cond()
		if done {
			return true, last
		}
		if time.Now().After(deadline) {
			return false, last
		}
		time.Sleep(pause)
		pause = min(2*pause, 250*time.Millisecond)
	}
}

// eventually polls cond (see poll) and fails the test when it is still
// not done after wait, saying what it waited for and what cond last saw.
func eventually(t *testing.T, wait time.Duration, what string, cond func() (done bool, last string)) {
	t.Helper()
	if ok, last := poll(wait, cond); !ok {
		t.Fatalf("timed out after %s waiting for %s; last seen: %s", wait, what, last)
	}
}

// metrics is one scrape of Caddy's admin /metrics, by family name.
type metrics map[string]*dto.MetricFamily

// scrape reads the admin /metrics of the in-process Caddy and parses it
// (parseMetrics), failing the test on any other answer than 200.
func scrape(t *testing.T) metrics {
	t.Helper()
	status, body := adminGet(t, "/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", status, body)
	}
	return parseMetrics(t, body)
}

// parseMetrics parses a Prometheus text exposition with the Prometheus
// text parser, failing the test on text it refuses. scrape uses it; a
// test that reads another process's /metrics calls it directly.
func parseMetrics(t *testing.T, body string) metrics {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return families
}

// value returns the value of the series of family name whose labels
// include every pair in labels, and whether there is one. When several
// series match (labels is a subset of their label sets, or nil), it
// returns their sum: value(name, nil) is the family's total. Counters,
// gauges and untyped samples have values; other types count as 0.
func (m metrics) value(name string, labels map[string]string) (float64, bool) {
	var sum float64
	found := false
	for _, s := range m[name].GetMetric() {
		if !hasLabels(s, labels) {
			continue
		}
		found = true
		switch {
		case s.Counter != nil:
			sum += s.GetCounter().GetValue()
		case s.Gauge != nil:
			sum += s.GetGauge().GetValue()
		case s.Untyped != nil:
			sum += s.GetUntyped().GetValue()
		}
	}
	return sum, found
}

func hasLabels(s *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		found := false
		for _, lp := range s.GetLabel() {
			if lp.GetName() == k && lp.GetValue() == v {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// openSSLTimeout bounds every openssl run: long enough for a loaded CI
// machine, short enough that a hung s_client fails the test rather than
// the whole run.
const openSSLTimeout = 30 * time.Second

// runOpenSSL runs the openssl CLI with args and stdin on its standard
// input, and returns its standard output, its standard error and how it
// exited (nil, or an *exec.ExitError; s_client exits non-zero when a
// handshake fails, which some tests expect). It fails the test when
// openssl is not installed (CI installs it; the tests use it as an
// independent client and calculator) or does not finish within
// openSSLTimeout.
func runOpenSSL(t *testing.T, stdin []byte, args ...string) (stdout, stderr []byte, err error) {
	t.Helper()
	bin, lookErr := exec.LookPath("openssl")
	if lookErr != nil {
		t.Fatalf("openssl is not installed: %v", lookErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), openSSLTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.WaitDelay = 5 * time.Second
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("openssl %s did not finish within %s:\n%s%s", strings.Join(args, " "), openSSLTimeout, out.Bytes(), errOut.Bytes())
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("openssl %s: %v", strings.Join(args, " "), err)
	}
	return out.Bytes(), errOut.Bytes(), err
}

// mustOpenSSL is runOpenSSL for a command that must succeed: it fails the
// test otherwise, and returns standard output.
func mustOpenSSL(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	out, errOut, err := runOpenSSL(t, stdin, args...)
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// httpsAddr is Caddy's HTTPS listener.
func httpsAddr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(httpsPort)) }

// dialTimeout bounds a TLS dial, connection and handshake together.
const dialTimeout = 10 * time.Second

// dialTLS connects to addr and makes one full TLS handshake as
// serverName with a copy of cfg (nil: an empty config) whose RootCAs are
// roots when roots is not nil, and whose session cache is dropped, so
// that nothing is resumed. It returns the open connection; the caller
// closes it.
func dialTLS(addr, serverName string, roots *x509.CertPool, cfg *tls.Config) (*tls.Conn, error) {
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg = cfg.Clone()
	cfg.ServerName = serverName
	cfg.ClientSessionCache = nil
	if roots != nil {
		cfg.RootCAs = roots
	}
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: dialTimeout}, Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("TLS handshake with %s as %s: %w", addr, serverName, err)
	}
	return conn.(*tls.Conn), nil
}

// handshake makes one handshake with Caddy's HTTPS port (dialTLS), closes
// the connection and returns its state.
func handshake(serverName string, roots *x509.CertPool, cfg *tls.Config) (tls.ConnectionState, error) {
	conn, err := dialTLS(httpsAddr(), serverName, roots, cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	return conn.ConnectionState(), nil
}

// labels selects series by label values (metrics.value).
type labels = map[string]string

// rise is how much a series should rise between two scrapes.
type rise struct {
	name   string
	labels labels
	by     float64
}

// risesMissed returns, one per line, each series of want that did not
// rise by exactly its by from before to after; "" when all did.
func risesMissed(before, after metrics, want []rise) string {
	var b strings.Builder
	for _, r := range want {
		v0, _ := before.value(r.name, r.labels)
		v1, _ := after.value(r.name, r.labels)
		if v1-v0 != r.by {
			fmt.Fprintf(&b, "%s%v rose by %v, want %v\n", r.name, r.labels, v1-v0, r.by)
		}
	}
	return b.String()
}
