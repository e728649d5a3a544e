package integration

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hardtls/caddy-hardtls/pinreport"
)

// hookServer is a webhook receiver that checks each delivery's HMAC
// signature itself and answers 503 to the first failFirst attempts of
// each alert, so the sender has to retry.
type hookServer struct {
	*httptest.Server
	secret    []byte
	failFirst int

	mu       sync.Mutex
	attempts map[string]int // by delivery ID
	alerts   []pinreport.Alert
	problems []string
}

func newHookServer(t *testing.T, secret string, failFirst int) *hookServer {
	h := &hookServer{secret: []byte(secret), failFirst: failFirst, attempts: make(map[string]int)}
	h.Server = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	mac := hmac.New(sha256.New, h.secret)
	mac.Write(body)
	wantSig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	id := r.Header.Get("X-Hardtls-Delivery")

	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case r.Method != http.MethodPost:
		h.problems = append(h.problems, "method "+r.Method)
	case !hmac.Equal([]byte(r.Header.Get("X-Hardtls-Signature")), []byte(wantSig)):
		h.problems = append(h.problems, "bad signature on "+id)
		w.WriteHeader(http.StatusUnauthorized)
		return
	case strings.Contains(string(body), "PRIVATE KEY"):
		h.problems = append(h.problems, "key material in "+id)
	}
	h.attempts[id]++
	if h.attempts[id] <= h.failFirst {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var al pinreport.Alert
	if err := json.Unmarshal(body, &al); err != nil {
		h.problems = append(h.problems, "undecodable body: "+err.Error())
		return
	}
	if al.ID != id || r.Header.Get("X-Hardtls-Event") != al.Event {
		h.problems = append(h.problems, "headers do not match body of "+id)
	}
	h.alerts = append(h.alerts, al)
}

// waitAlert waits for an accepted alert of event about identifier (an
// alert's identifier or one of its certificate's names) that passes
// cond, if given.
func (h *hookServer) waitAlert(t *testing.T, event, identifier string, wait time.Duration, cond ...func(pinreport.Alert) bool) (pinreport.Alert, int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		h.mu.Lock()
		for _, al := range h.alerts {
			if al.Event != event || (len(cond) > 0 && !cond[0](al)) {
				continue
			}
			if al.Identifier == identifier || (al.Certificate != nil && slices.Contains(al.Certificate.Names, identifier)) {
				n := h.attempts[al.ID]
				h.mu.Unlock()
				return al, n
			}
		}
		problems := slices.Clone(h.problems)
		h.mu.Unlock()
		if len(problems) > 0 {
			t.Fatalf("webhook receiver: %s", strings.Join(problems, "; "))
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s webhook alert for %s within %s", event, identifier, wait)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// randomPin returns a well-formed pin of no key.
func randomPin(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// TestPinReportACMERenewal has pebble issue certificates valid for 30 s
// to two sites, one renewing with a new key each time and one with
// reuse_private_keys, and checks what pinreport makes of the issuance,
// the renewals, and a CA that goes away. The full reconcile runs only at
// start (scan_interval 1h): everything after comes from certificate
// events and the schedule of expiry levels.
func TestPinReportACMERenewal(t *testing.T) {
	const (
		keyOff = "keyoff.pinreport.localhost"
		keyOn  = "keyon.pinreport.localhost"
	)
	pebble := startPebble(t, 30*time.Second)
	hook := newHookServer(t, "s3cret", 2)
	mismatchPins := []string{randomPin(t), randomPin(t)}

	freshCertCache(t) // renew_interval 2s applies, whatever ran before
	mark := logMark()
	dumpPinReportLogs(t, mark)
	// An explicit e-mail: certmagic can register two accounts at once
	// with the placeholder contact "default", which pebble refuses.
	load(t, caddyfile(fmt.Sprintf(`
	email pinreport-test@example.org
	renew_interval 2s
	pinreport {
		scan_interval 1h
		pin %s sha256/%s
		pin %s %s %s
		webhook %s/hook {
			secret s3cret
			backoff 50ms
			retries 3
			min_severity info
		}
	}`, keyOn, pebble.issuerPin(), keyOff, mismatchPins[0], mismatchPins[1], hook.URL), fmt.Sprintf(`
%s {
	%s
	respond "off"
}
%s {
	%s
	respond "on"
}`, keyOff, pebble.tlsBlock(""), keyOn, pebble.tlsBlock("reuse_private_keys"))), "caddyfile")
	// Counters survive reloads (they live in state shared across configs),
	// so they are compared with their values when this config started,
	// before any certificate was issued.
	before := scrape(t)
	renewals0, _ := before.value("pinreport_renewals_total", nil)
	changes0, _ := before.value("pinreport_pin_changes_total", nil)
	failures0, _ := before.value("pinreport_renewal_failures_total", nil)

	if warn := logsSince(t, mark, "expected pins without a backup", 5*time.Second); len(warn) == 0 || warn[0]["host"] != keyOn {
		t.Errorf("want a warning about the single pin of %s; got %v", keyOn, warn)
	}

	roots := x509.NewCertPool()
	roots.AddCert(pebble.ca.GetRootCert(0).Cert)
	waitCert(t, keyOff, roots)
	waitCert(t, keyOn, roots)

	// The first issuance: the inventory matches what openssl computes
	// from the chain Caddy serves.
	// Pebble's ARI window for short certificates starts at issuance, so a
	// renewal may come at any time: compare with what is served now.
	var leafFacts, issuerFacts opensslFacts
	first := waitInventory(t, keyOff, 20*time.Second, "the served certificate", func(c pinreport.CertificateReport) bool {
		chain := servedChain(t, keyOff, roots)
		leafFacts, issuerFacts = opensslFactsOf(t, chain[0].Raw), opensslFactsOf(t, chain[1].Raw)
		return c.Serial == leafFacts.serial
	})
	checkACMEEntry(t, first, leafFacts, issuerFacts)
	onFirst := waitInventory(t, keyOn, 20*time.Second, "the served certificate", func(c pinreport.CertificateReport) bool {
		return c.Serial == opensslFactsOf(t, servedChain(t, keyOn, roots)[0].Raw).serial
	})
	if len(onFirst.ExpectedPins) != 1 || !onFirst.ExpectedPins[0].Match || onFirst.ExpectedPins[0].Backup {
		t.Errorf("%s pinned to its issuer: want one matching pin without backup; got %+v", keyOn, onFirst.ExpectedPins)
	}

	// keyoff's chain matches none of its expected pins: an alert, once.
	mismatch, attempts := hook.waitAlert(t, pinreport.EventPinMismatch, keyOff, 20*time.Second)
	if mismatch.Severity != pinreport.SeverityCritical || mismatch.Host != keyOff || !slices.Equal(mismatch.ExpectedPins, mismatchPins) {
		t.Errorf("pin mismatch alert: %+v", mismatch)
	}
	if attempts != 3 {
		t.Errorf("the receiver failed the first 2 attempts; the alert took %d attempts, want 3", attempts)
	}
	if v, _ := scrape(t).value("pinreport_pin_mismatches_total", nil); v < 1 {
		t.Errorf("pinreport_pin_mismatches_total = %v after a mismatch", v)
	}

	// A renewal without reuse_private_keys changes the leaf key. Pebble's
	// ARI window for short certificates opens at issuance, so renewals
	// may already have happened: logs are read from the load on, and the
	// first key change must start from the first certificate seen.
	renewed := waitInventory(t, keyOff, 60*time.Second, "a renewal", func(c pinreport.CertificateReport) bool {
		return c.Serial != first.Serial
	})
	if renewed.SPKIPin == first.SPKIPin {
		t.Errorf("%s renewed without reuse_private_keys but kept its pin %s", keyOff, first.SPKIPin)
	}
	if renewed.Renewal.LastObtained == nil || renewed.Renewal.LastObtained.Before(renewed.NotBefore) {
		t.Errorf("last_obtained %v is before the renewed certificate's not_before %s", renewed.Renewal.LastObtained, renewed.NotBefore)
	}
	changed := logsSince(t, mark, "certificate key changed", 10*time.Second)
	if !hasLogFor(changed, keyOff, func(e logEntry) bool { return e["old_pin"] == first.SPKIPin && e["new_pin"] != first.SPKIPin }) {
		t.Errorf("no pin change logged for %s from %s; got %v", keyOff, first.SPKIPin, changed)
	}
	if !hasLogFor(changed, keyOff, func(e logEntry) bool { return e["new_pin"] == renewed.SPKIPin }) {
		t.Errorf("no pin change logged for %s to %s; got %v", keyOff, renewed.SPKIPin, changed)
	}
	fromFirst := func(al pinreport.Alert) bool { return al.OldPin == first.SPKIPin }
	if al, _ := hook.waitAlert(t, pinreport.EventPinChanged, keyOff, 10*time.Second, fromFirst); al.NewPin == al.OldPin || al.Certificate == nil {
		t.Errorf("pin_changed alert from the first key: %+v", al)
	}

	// With reuse_private_keys the key, and with it the pin, survives.
	onRenewed := waitInventory(t, keyOn, 60*time.Second, "a renewal", func(c pinreport.CertificateReport) bool {
		return c.Serial != onFirst.Serial
	})
	if onRenewed.SPKIPin != onFirst.SPKIPin {
		t.Errorf("%s renewed with reuse_private_keys but its pin changed from %s to %s", keyOn, onFirst.SPKIPin, onRenewed.SPKIPin)
	}
	if hasLogFor(logsSince(t, mark, "certificate key changed", 0), keyOn, nil) {
		t.Errorf("a pin change was logged for %s, which reuses its key", keyOn)
	}
	// Every renewal is an info alert (min_severity info sends it), which
	// says whether the key was kept.
	keptKey := func(al pinreport.Alert) bool {
		return al.OldPin == onFirst.SPKIPin && al.NewPin == onFirst.SPKIPin && strings.Contains(al.Detail, "key kept")
	}
	if al, _ := hook.waitAlert(t, pinreport.EventRenewed, keyOn, 10*time.Second, keptKey); al.Severity != pinreport.SeverityInfo || al.Certificate == nil {
		t.Errorf("renewed alert for %s: %+v", keyOn, al)
	}
	if !hasLogFor(logsSince(t, mark, "certificate renewed", 5*time.Second), keyOn, func(e logEntry) bool {
		return e["level"] == "info" && e["event"] == pinreport.EventRenewed
	}) {
		t.Errorf("no info line for the renewal of %s", keyOn)
	}
	changedKey := func(al pinreport.Alert) bool {
		return al.OldPin == first.SPKIPin && strings.Contains(al.Detail, "key changed")
	}
	if al, _ := hook.waitAlert(t, pinreport.EventRenewed, keyOff, 10*time.Second, changedKey); al.NewPin == al.OldPin {
		t.Errorf("renewed alert for %s: %+v", keyOff, al)
	}
	// The receiver failed the first attempts: the retries are logged by
	// the pinreport.webhook logger, as the docs say.
	retries := logsSince(t, mark, "webhook delivery failed; retrying", 0)
	if len(retries) == 0 {
		t.Error("no webhook retry logged")
	}
	for _, e := range retries {
		if e["logger"] != "pinreport.webhook" {
			t.Errorf("webhook retry logged by %v, want pinreport.webhook", e["logger"])
		}
	}

	after := scrape(t)
	if v, _ := after.value("pinreport_renewals_total", nil); v < renewals0+2 {
		t.Errorf("pinreport_renewals_total went from %v to %v after two renewals", renewals0, v)
	}
	if v, _ := after.value("pinreport_pin_changes_total", nil); v < changes0+1 {
		t.Errorf("pinreport_pin_changes_total went from %v to %v after a key change", changes0, v)
	}
	checkExpiryMetrics(t, keyOff)

	// The CA goes away: the next renewal fails, is counted, logged and
	// sent to the webhook.
	mark = logMark()
	pebble.stop()
	failed := logsSince(t, mark, "certificate renewal failed", 60*time.Second)
	if len(failed) == 0 {
		t.Fatalf("no renewal failure logged within 60s of the CA going away")
	}
	if failed[0]["event"] != pinreport.EventRenewalFailed || failed[0]["error"] == "" {
		t.Errorf("renewal failure log: %v", failed[0])
	}
	id, _ := failed[0]["identifier"].(string)
	al, attempts := hook.waitAlert(t, pinreport.EventRenewalFailed, id, 10*time.Second)
	if al.Severity != pinreport.SeverityWarning || al.Error == "" || al.Certificate == nil {
		t.Errorf("renewal_failed alert: %+v", al)
	}
	if attempts != 3 {
		t.Errorf("renewal_failed alert took %d attempts, want 3", attempts)
	}
	if v, _ := scrape(t).value("pinreport_renewal_failures_total", nil); v < failures0+1 {
		t.Errorf("pinreport_renewal_failures_total went from %v to %v after a failure", failures0, v)
	}
	rep := waitInventory(t, id, 10*time.Second, "the failure", func(c pinreport.CertificateReport) bool {
		return c.Renewal.LastFailure != nil
	})
	if rep.Renewal.LastError == "" || rep.Renewal.ConsecutiveFailures < 1 {
		t.Errorf("renewal status after a failure: %+v", rep.Renewal)
	}
}

// checkACMEEntry compares an inventory entry with openssl's view of the
// served leaf and its issuer.
func checkACMEEntry(t *testing.T, c pinreport.CertificateReport, leaf, issuer opensslFacts) {
	t.Helper()
	if c.IssuerKind != "acme" || !strings.HasPrefix(c.IssuerKey, "localhost-") {
		t.Errorf("issuer_kind %q, issuer_key %q; want acme from localhost-<port>-dir", c.IssuerKind, c.IssuerKey)
	}
	if c.SPKIPin != leaf.pin {
		t.Errorf("spki_pin %s; openssl computes %s", c.SPKIPin, leaf.pin)
	}
	if c.SHA256Fingerprint != leaf.fingerprint {
		t.Errorf("sha256_fingerprint %s; openssl computes %s", c.SHA256Fingerprint, leaf.fingerprint)
	}
	if len(c.Chain) != 1 || c.Chain[0].SPKIPin != issuer.pin {
		t.Errorf("chain %+v; want the issuer with pin %s", c.Chain, issuer.pin)
	}
	wantTLSA := []string{"3 1 1 " + leaf.pinHex, "2 1 1 " + issuer.pinHex}
	if !slices.Equal(c.TLSA, wantTLSA) {
		t.Errorf("tlsa %q; want %q", c.TLSA, wantTLSA)
	}
	if c.LifetimeSeconds < 28 || c.LifetimeSeconds > 30 || c.KeyType != "ecdsa" || c.KeyBits != 256 {
		t.Errorf("lifetime %ds, key %s/%d; want about 30s, ecdsa/256", c.LifetimeSeconds, c.KeyType, c.KeyBits)
	}
	if c.Renewal.ExpectedAt.Before(c.NotBefore) || c.Renewal.ExpectedAt.After(c.NotAfter) {
		t.Errorf("expected renewal %s outside the validity %s to %s", c.Renewal.ExpectedAt, c.NotBefore, c.NotAfter)
	}
}

// checkExpiryMetrics checks the not-after series of name against the
// served certificate's notAfter, and that every state has a series.
func checkExpiryMetrics(t *testing.T, name string) {
	t.Helper()
	var got, want float64
	for range 5 { // a scan may come between the two reads
		inv := inventory(t, name)
		if len(inv.Certificates) == 0 {
			t.Fatalf("/pinreport/%s lists no certificate", name)
		}
		want = float64(inv.Certificates[0].NotAfter.Unix())
		families := scrape(t)
		v, ok := families.value("pinreport_certificate_not_after_timestamp_seconds",
			map[string]string{"name": name, "issuer_kind": "acme"})
		if !ok {
			t.Fatalf("no pinreport_certificate_not_after_timestamp_seconds series for %s", name)
		}
		for _, state := range []string{"ok", "warning", "critical", "expired"} {
			if _, ok := families.value("pinreport_certificates", map[string]string{"state": state}); !ok {
				t.Errorf("no pinreport_certificates series for state %s", state)
			}
		}
		if got = v; got == want {
			return
		}
	}
	t.Errorf("not_after metric of %s is %v; the inventory says %v", name, got, want)
}

// hasLogFor reports whether a log line is about name and passes cond.
func hasLogFor(lines []logEntry, name string, cond func(logEntry) bool) bool {
	for _, e := range lines {
		names, _ := e["names"].([]any)
		id, _ := e["identifier"].(string)
		if id != name && !slices.Contains(names, any(name)) {
			continue
		}
		if cond == nil || cond(e) {
			return true
		}
	}
	return false
}
