package pinreport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/crypto/ocsp"

	"github.com/hardtls/caddy-hardtls/internal/certs"
	"github.com/hardtls/caddy-hardtls/internal/testpki"
)

func TestRevocationConfig(t *testing.T) {
	for _, tc := range []struct {
		r    Revocation
		want string
	}{
		{Revocation{IssuerCRLs: []IssuerCRL{{URL: "http://crl.example/a.crl"}}}, `issuer_crls[0].issuer_spki = "": is required when issuer_subject is not set; fix: set issuer_spki`},
		{Revocation{IssuerCRLs: []IssuerCRL{{IssuerSPKI: knownPin, IssuerSubject: "CN=x", URL: "http://crl.example/a.crl"}}}, `issuer_crls[0].issuer_subject = "CN=x": is set beside issuer_spki; an entry names its issuer one way; fix: keep`},
		{Revocation{IssuerCRLs: []IssuerCRL{{IssuerSPKI: "sha256/AAAA", URL: "http://crl.example/a.crl"}}}, `issuer_crls[0].issuer_spki = "sha256/AAAA": decodes to 3 bytes`},
		{Revocation{IssuerCRLs: []IssuerCRL{{IssuerSubject: "CN=x", URL: "ldap://crl.example/a"}}}, `issuer_crls[0].url = "ldap://crl.example/a": has no http:// or https:// scheme; fix: write it as http://crl.example/a`},
		{Revocation{IssuerCRLs: []IssuerCRL{{IssuerSubject: "CN=x"}}}, `issuer_crls[0].url = "": is required`},
		{Revocation{Interval: caddy1ms}, `interval = "1ms": is too short; fix: use 1s or more`},
		{Revocation{MaxSize: -1}, "max_size = -1: is negative; fix: "},
	} {
		err := tc.r.provision()
		if err == nil {
			err = tc.r.validateIfSet()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v; want %q", tc.r, err, tc.want)
		}
	}
	var r Revocation
	if err := r.provision(); err != nil || r.interval != time.Hour {
		t.Errorf("defaults: %v, interval %s", err, r.interval)
	}
}

const caddy1ms = 1_000_000

// revocationApp is an app over a test cache with revocation checks every
// minute of a settable clock.
func revocationApp(t *testing.T, tc *testCache, clk *clock, cfg Revocation) (*App, *observer.ObservedLogs) {
	t.Helper()
	a, logs := testApp(t, tc)
	a.now = clk.now
	cfg.Interval = 60_000_000_000
	a.Revocation = &cfg
	if err := a.Revocation.provision(); err != nil {
		t.Fatal(err)
	}
	a.revocation = newRevocationMonitor(a.Revocation, a.now)
	t.Cleanup(a.revocation.checker.Close)
	return a, logs
}

// poll runs one round of checks a minute after the last.
func poll(a *App, clk *clock) {
	clk.t = clk.t.Add(time.Minute)
	a.checkRevocations(context.Background())
}

func TestRevocationCRL(t *testing.T) {
	ca := testpki.NewCRLCA(t, "revocation CA", nil)
	srv := ca.ServeCRL(t)
	tc := newTestCache(t)
	clk := &clock{t: time.Now()}
	leaf := tc.add(t, ca.IssueWith(t, testpki.Leaf{Names: []string{"crl.example"}, NotBefore: clk.t.Add(-time.Hour)}, testpki.WithCRL(srv.URL)))
	plain := tc.add(t, ca.Issue(t, testpki.Leaf{Names: []string{"plain.example"}, NotBefore: clk.t.Add(-time.Hour)}))
	a, logs := revocationApp(t, tc, clk, Revocation{})
	a.extraNames = []string{"crl.example", "plain.example"}
	reconcile(a)

	poll(a, clk)
	if got := logs.FilterMessage("certificate revoked").All(); len(got) != 0 {
		t.Fatalf("revoked alerts for good certificates: %v", got)
	}
	e := a.state.inv.byHash[leaf.Hash()]
	if rs := a.state.inv.revocationOf(e); rs.status != revGood || rs.crl == nil || rs.crl.Source != srv.URL {
		t.Fatalf("before the revocation: %+v", rs)
	}
	if rs := a.state.inv.revocationOf(a.state.inv.byHash[plain.Hash()]); rs.status != revUnchecked {
		t.Errorf("a certificate that names no CRL: %s", rs.status)
	}

	// The CA revokes it: the next round sees it, once.
	srv.Revoke(t, leaf.Leaf.SerialNumber, 1)
	poll(a, clk)
	poll(a, clk)
	got := logs.FilterMessage("certificate revoked").All()
	if len(got) != 1 {
		t.Fatalf("%d revoked alerts after the revocation and two rounds; want 1", len(got))
	}
	f := got[0].ContextMap()
	if f["event"] != EventRevoked || f["severity"] != "critical" || f["revocation_source"] != "crl" || f["crl"] != srv.URL ||
		f["revocation_reason"] != "keyCompromise" || !strings.Contains(f["fix"].(string), "replace the certificate files") {
		t.Errorf("revoked alert %v", f)
	}
	if a.state.counts.revokedCount(revocationSourceCRL) != 1 || a.state.inv.revocationCounts()[revRevoked] != 1 {
		t.Errorf("counted %d revocations, %d revoked certificates; want 1, 1", a.state.counts.revokedCount(revocationSourceCRL), a.state.inv.revocationCounts()[revRevoked])
	}

	// The report says so.
	c := a.reporter().certificate(e, clk.t)
	if c.Revocation == nil || c.Revocation.Status != "revoked" || c.Revocation.CRL == nil || c.Revocation.CRL.Reason != "keyCompromise" || c.Revocation.CRL.RevokedAt == nil {
		b, _ := json.Marshal(c.Revocation)
		t.Errorf("report: %s", b)
	}

	// The metrics, on a pedantic registry.
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(newCollector(a.state.inv, a.state.counts, levelOK, a.revocation)); err != nil {
		t.Fatal(err)
	}
	fams := gather(t, reg)
	for _, m := range fams["pinreport_revocation_status"].GetMetric() {
		if labelsOf(m)["status"] == "revoked" && m.GetGauge().GetValue() != 1 {
			t.Errorf("revocation_status revoked %v", m.GetGauge().GetValue())
		}
	}
	for _, m := range fams["pinreport_crl_fetches_total"].GetMetric() {
		if l := labelsOf(m)["result"]; (l == "ok" && m.GetCounter().GetValue() < 2) || (l == "failed" && m.GetCounter().GetValue() != 0) {
			t.Errorf("crl_fetches_total{result=%s} %v", l, m.GetCounter().GetValue())
		}
	}
}

// TestRevocationHostileCRL: a CRL that cannot be fetched, parsed or
// verified, or is stale, is a warning once per streak, never a
// revocation, even when it lists the certificate.
func TestRevocationHostileCRL(t *testing.T) {
	ca := testpki.NewCRLCA(t, "revocation CA", nil)
	impostor := testpki.NewCRLCA(t, "revocation CA", nil) // same name, another key
	tc := newTestCache(t)
	clk := &clock{t: time.Now()}
	var mode string
	var serial *x509.Certificate
	hostile := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		url := "http://" + r.Host + "/crl"
		switch mode {
		case "impostor":
			w.Write(impostor.SignCRL(t, testpki.CRL{Revoked: []x509.RevocationListEntry{{SerialNumber: serial.SerialNumber, RevocationTime: clk.t}}, IDP: []string{url}}))
		case "stale":
			w.Write(ca.SignCRL(t, testpki.CRL{ThisUpdate: clk.t.Add(-48 * time.Hour), NextUpdate: clk.t.Add(-time.Hour),
				Revoked: []x509.RevocationListEntry{{SerialNumber: serial.SerialNumber, RevocationTime: clk.t.Add(-49 * time.Hour)}}, IDP: []string{url}}))
		case "good":
			w.Write(ca.SignCRL(t, testpki.CRL{ThisUpdate: clk.t.Add(-time.Hour), IDP: []string{url}}))
		default:
			w.Write([]byte("<html>maintenance</html>"))
		}
	}))
	defer hostile.Close()
	leaf := tc.add(t, ca.IssueWith(t, testpki.Leaf{Names: []string{"hostile.example"}, NotBefore: clk.t.Add(-time.Hour)}, testpki.WithCRL(hostile.URL+"/crl")))
	serial = leaf.Leaf
	a, logs := revocationApp(t, tc, clk, Revocation{})
	a.extraNames = []string{"hostile.example"}
	reconcile(a)

	unknown := func() int { return len(logs.FilterMessage("certificate revocation status unknown").All()) }
	for _, step := range []struct {
		mode        string
		wantUnknown int
	}{
		{"impostor", 1}, {"impostor", 1}, {"stale", 1}, {"garbage", 1}, {"good", 1}, {"stale", 2},
	} {
		mode = step.mode
		poll(a, clk)
		poll(a, clk) // a failed fetch is tried again after RetryAfter, here the interval
		if n := unknown(); n != step.wantUnknown {
			t.Fatalf("after %s: %d unknown warnings; want %d", step.mode, n, step.wantUnknown)
		}
	}
	if n := len(logs.FilterMessage("certificate revoked").All()); n != 0 || a.state.counts.revokedCount(revocationSourceCRL) != 0 {
		t.Fatalf("a hostile CRL raised %d revoked alerts", n)
	}
	w := logs.FilterMessage("certificate revocation status unknown").All()[0].ContextMap()
	if w["severity"] != "warning" || !strings.Contains(w["error"].(string), "names authority key ID") {
		t.Errorf("unknown warning %v", w)
	}
}

// TestRevocationIssuerCRLs: a certificate that names no CRL is checked
// against the one issuer_crls gives its issuer, by key or by name.
func TestRevocationIssuerCRLs(t *testing.T) {
	ca := testpki.NewCRLCA(t, "mapped CA", nil)
	srv := ca.ServeCRL(t)
	tc := newTestCache(t)
	clk := &clock{t: time.Now()}
	cert := tc.add(t, ca.Issue(t, testpki.Leaf{Names: []string{"mapped.example"}, NotBefore: clk.t.Add(-time.Hour)}))
	for _, m := range []IssuerCRL{
		{IssuerSPKI: SPKIPin(ca.Cert).OkHttp(), URL: srv.URL},
		{IssuerSubject: ca.Cert.Subject.String(), URL: srv.URL},
	} {
		a, _ := revocationApp(t, tc, clk, Revocation{IssuerCRLs: []IssuerCRL{m}})
		a.extraNames = []string{"mapped.example"}
		reconcile(a)
		poll(a, clk)
		if rs := a.state.inv.revocationOf(a.state.inv.byHash[cert.Hash()]); rs.status != revGood || rs.crl.Source != srv.URL {
			t.Errorf("%+v: %s", m, rs.status)
		}
	}
}

// TestRevocationStaple: the OCSP response stapled to a certificate is
// reported, and a revoked one alerts like a CRL does.
func TestRevocationStaple(t *testing.T) {
	ca := testpki.NewCRLCA(t, "OCSP CA", nil)
	tc := newTestCache(t)
	clk := &clock{t: time.Now()}
	withResponder := func(tmpl *x509.Certificate) { tmpl.OCSPServer = []string{"http://ocsp.example"} }
	staple := func(c tls.Certificate, status int) tls.Certificate {
		tmpl := ocsp.Response{Status: status, SerialNumber: c.Leaf.SerialNumber, ThisUpdate: clk.t.Add(-time.Hour), NextUpdate: clk.t.Add(24 * time.Hour)}
		if status == ocsp.Revoked {
			tmpl.RevokedAt, tmpl.RevocationReason = clk.t.Add(-time.Hour).UTC().Truncate(time.Second), ocsp.Superseded
		}
		der, err := ocsp.CreateResponse(ca.Cert, ca.Cert, tmpl, ca.Key)
		if err != nil {
			t.Fatal(err)
		}
		c.OCSPStaple = der
		return c
	}
	good := tc.add(t, staple(ca.IssueWith(t, testpki.Leaf{Names: []string{"good.example"}, NotBefore: clk.t.Add(-time.Hour)}, withResponder), ocsp.Good))
	revoked := tc.add(t, staple(ca.IssueWith(t, testpki.Leaf{Names: []string{"revoked.example"}, NotBefore: clk.t.Add(-time.Hour)}, withResponder), ocsp.Revoked))
	a, logs := revocationApp(t, tc, clk, Revocation{})
	a.extraNames = []string{"good.example", "revoked.example"}
	reconcile(a)
	poll(a, clk)

	c := a.reporter().certificate(a.state.inv.byHash[good.Hash()], clk.t)
	if c.Revocation == nil || c.Revocation.Status != "good" || c.Revocation.OCSPStaple == nil || c.Revocation.OCSPStaple.NextUpdate == nil || c.Revocation.CRL != nil {
		b, _ := json.Marshal(c.Revocation)
		t.Errorf("good staple: %s", b)
	}
	got := logs.FilterMessage("certificate revoked").All()
	if len(got) != 1 || got[0].ContextMap()["revocation_source"] != "ocsp_staple" || got[0].ContextMap()["serial"] != certs.SerialHex(revoked.Leaf) {
		t.Fatalf("revoked staple alerts %v", got)
	}
	// certmagic's own OCSP check reports the same certificate: no second
	// alert.
	a.handleEvent(newEvent(t, "cert_ocsp_revoked", map[string]any{"certificate": revoked, "reason": 4, "revoked_at": clk.t}))
	if n := len(logs.FilterMessage("certificate revoked").All()); n != 1 {
		t.Errorf("%d revoked alerts after certmagic's event for the same certificate; want 1", n)
	}
}

// TestReplacementFix: a managed certificate's fix names the files to
// remove; Caddy keeps serving a cached managed certificate otherwise.
func TestReplacementFix(t *testing.T) {
	ca := newTestCA(t, "fix")
	tc := newTestCache(t)
	now := time.Now()
	cert := tc.add(t, ca.leaf(t, []string{"managed.example"}, now, now.Add(time.Hour), nil))
	e := newEntry(&cert, certs.Origin{Kind: KindACME, IssuerKey: "acme-v02.api.letsencrypt.org-directory"}, 0, certs.NewInterner())
	dir := t.TempDir()
	a := &App{storage: &certmagic.FileStorage{Path: dir}}
	fix := a.replacementFix(e)
	for _, want := range []string{dir + "/certificates/acme-v02.api.letsencrypt.org-directory/managed.example", "restart Caddy", "a reload keeps"} {
		if !strings.Contains(fix, want) {
			t.Errorf("fix %q lacks %q", fix, want)
		}
	}
}
