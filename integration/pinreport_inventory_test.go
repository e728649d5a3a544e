package integration

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/hardtls/caddy-hardtls/internal/certs"
	"github.com/hardtls/caddy-hardtls/internal/testpki"
	"github.com/hardtls/caddy-hardtls/pinreport"
	"github.com/hardtls/caddy-hardtls/tlsguard"
)

// manualCert writes a self-signed certificate for names and its key as
// PEM files (testpki.WritePEM) and returns their paths and the DER.
func manualCert(t *testing.T, names ...string) (certFile, keyFile string, der []byte) {
	t.Helper()
	c := testpki.SelfSigned(t, testpki.Leaf{Names: names})
	certFile, keyFile = testpki.WritePEM(t, t.TempDir(), "manual", c)
	return certFile, keyFile, c.Certificate[0]
}

// TestPinReportInventoryKinds serves a manually loaded certificate, one
// from Caddy's internal CA and on-demand ones, and checks that the
// inventory, the shared enumeration, the admin views and the metrics
// have each of them, and that tlsguard lists the same certificates in the
// same shape.
func TestPinReportInventoryKinds(t *testing.T) {
	const (
		manualName = "manual.pinreport.localhost"
		aliasName  = "alias.pinreport.localhost" // on the certificate, no site
		internal   = "internal.pinreport.localhost"
		onDemand   = "od1.ondemand.localhost"
	)
	certFile, keyFile, manualDER := manualCert(t, manualName, aliasName)
	ask := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Query().Get("domain"), ".ondemand.localhost") {
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	defer ask.Close()

	sites := fmt.Sprintf(`
%s {
	tls %s %s
	respond "manual"
}
%s {
	tls internal
	respond "internal"
}
https:// {
	tls internal {
		on_demand
	}
	respond "on demand"
}`, manualName, certFile, keyFile, internal)
	mark := logMark()
	dumpPinReportLogs(t, mark)
	load(t, caddyfile(fmt.Sprintf(`
	on_demand_tls {
		ask %s
	}
	pinreport {
		scan_interval 1h
	}
	tlsguard {
		mode audit
	}`, ask.URL), sites), "caddyfile")

	roots := localRoot(t)
	roots.AppendCertsFromPEM(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: manualDER}))
	waitCert(t, internal, roots)
	waitCert(t, onDemand, roots) // obtained during this handshake

	manual := waitInventory(t, manualName, 10*time.Second, "the manual certificate", func(c pinreport.CertificateReport) bool { return true })
	facts := opensslFactsOf(t, manualDER)
	if manual.IssuerKind != "manual" || manual.IssuerKey != "" || !slices.Equal(manual.Names, []string{manualName, aliasName}) {
		t.Errorf("manual certificate: kind %q, issuer key %q, names %v", manual.IssuerKind, manual.IssuerKey, manual.Names)
	}
	if manual.SPKIPin != facts.pin || manual.SHA256Fingerprint != facts.fingerprint || manual.Serial != facts.serial {
		t.Errorf("manual certificate pin %s, fingerprint %s, serial %s; openssl: %s, %s, %s",
			manual.SPKIPin, manual.SHA256Fingerprint, manual.Serial, facts.pin, facts.fingerprint, facts.serial)
	}
	if len(manual.TLSA) != 1 || manual.TLSA[0] != "3 1 1 "+facts.pinHex || len(manual.Chain) != 0 {
		t.Errorf("a self-signed certificate served alone: tlsa %q, chain %v", manual.TLSA, manual.Chain)
	}
	if alias := inventory(t, aliasName); len(alias.Certificates) != 1 || alias.Certificates[0].SPKIPin != facts.pin {
		t.Errorf("/pinreport/%s does not find the manual certificate", aliasName)
	}

	in := waitInventory(t, internal, 10*time.Second, "the internal certificate", func(c pinreport.CertificateReport) bool { return true })
	if in.IssuerKind != "internal" || in.IssuerKey != "local" {
		t.Errorf("internal certificate: kind %q, issuer key %q; want internal from local", in.IssuerKind, in.IssuerKey)
	}
	internalChain := servedChain(t, internal, roots)
	if f := opensslFactsOf(t, internalChain[0].Raw); in.SPKIPin != f.pin {
		t.Errorf("internal certificate pin %s; openssl says %s", in.SPKIPin, f.pin)
	}
	if f := opensslFactsOf(t, internalChain[1].Raw); len(in.TLSA) != 2 || in.TLSA[1] != "2 1 1 "+f.pinHex {
		t.Errorf("internal certificate tlsa %q; want 2 1 1 %s for the intermediate", in.TLSA, f.pinHex)
	}
	// DANE, judged by openssl s_client: each TLSA record the report gives
	// authenticates what the site serves (DANE-EE at depth 0, even for the
	// self-signed certificate; DANE-TA at depth 1), and the same record
	// with its last digit changed does not.
	for _, site := range []struct {
		name string
		tlsa []string
	}{{manualName, manual.TLSA}, {internal, in.TLSA}} {
		for _, rec := range site.tlsa {
			last := rec[len(rec)-1:]
			flipped := rec[:len(rec)-1] + map[bool]string{true: "1", false: "0"}[last == "0"]
			for _, tc := range []struct {
				rdata string
				ok    bool
			}{{rec, true}, {flipped, false}} {
				out, _ := sClient(t, site.name, nil, "-brief", "-dane_tlsa_domain", site.name, "-dane_tlsa_rrdata", tc.rdata)
				if got := strings.Contains(string(out), "Verification: OK"); got != tc.ok {
					t.Errorf("%s, TLSA %q: openssl verified %v, want %v:\n%s", site.name, tc.rdata, got, tc.ok, out)
				}
			}
		}
	}

	// The on-demand certificate has no site of its own: it is found
	// through the cache event that announced it.
	od := waitInventory(t, onDemand, 10*time.Second, "the on-demand certificate", func(c pinreport.CertificateReport) bool { return true })
	if od.IssuerKind != "internal" || !slices.Contains(od.Names, onDemand) {
		t.Errorf("on-demand certificate: kind %q, names %v", od.IssuerKind, od.Names)
	}
	found, err := certs.Served(caddy.ActiveContext())
	if err != nil {
		t.Fatal(err)
	}
	var servedNames []string
	for _, c := range found.Distinct() {
		servedNames = append(servedNames, c.Names[0])
	}
	for _, want := range []string{manualName, internal, onDemand} {
		if !slices.Contains(servedNames, want) {
			t.Errorf("certs.Served lacks %s: %v", want, servedNames)
		}
	}

	// One certificate, one shape: tlsguard describes each certificate of
	// the inventory with the same facts, found by the same enumeration.
	// Certificates the previous test's config took out of the cache when
	// it was cleaned up (without an event) leave the inventory at the
	// reconcile that config asked for on its way out.
	var rep pinreport.Report
	var tg tlsguard.Report
	poll(10*time.Second, func() (bool, string) {
		rep, tg = inventory(t, ""), tlsguardReport(t)
		return len(rep.Certificates) == len(tg.Certificates), ""
	})
	for _, c := range rep.Certificates {
		i := slices.IndexFunc(tg.Certificates, func(g tlsguard.CertReport) bool { return g.SHA256Fingerprint == c.SHA256Fingerprint })
		if i < 0 {
			t.Errorf("/tlsguard/ lacks %v (sha256_fingerprint %s)", c.Names, c.SHA256Fingerprint)
			continue
		}
		want, got := c.Summary, tg.Certificates[i].Summary
		want.RemainingSeconds, got.RemainingSeconds = 0, 0 // read at two moments
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%v:\n/tlsguard/  %+v\n/pinreport/ %+v", c.Names, got, want)
		}
	}

	// The text views. TLSA owner names use the http app's https_port
	// unless ?port= says otherwise.
	_, zone := adminGet(t, "/pinreport/?format=tlsa")
	if want := fmt.Sprintf("_%d._tcp.%s. IN TLSA 3 1 1 %s", httpsPort, manualName, facts.pinHex); !strings.Contains(zone, want) {
		t.Errorf("TLSA zone lacks %q:\n%s", want, zone)
	}
	_, zone = adminGet(t, "/pinreport/?format=tlsa&port=8443")
	for _, want := range []string{
		"_8443._tcp." + manualName + ". IN TLSA 3 1 1 " + facts.pinHex,
		"_8443._tcp." + aliasName + ". IN TLSA 3 1 1 " + facts.pinHex,
	} {
		if !strings.Contains(zone, want) {
			t.Errorf("TLSA zone lacks %q:\n%s", want, zone)
		}
	}
	if _, kt := adminGet(t, "/pinreport/"+manualName+"?format=okhttp"); !strings.Contains(kt, `.add("`+manualName+`", "sha256/`+facts.pin+`")`) {
		t.Errorf("OkHttp snippet lacks the pin:\n%s", kt)
	}
	if _, xml := adminGet(t, "/pinreport/"+manualName+"?format=android"); !strings.Contains(xml, `<pin digest="SHA-256">`+facts.pin+`</pin>`) {
		t.Errorf("Android snippet lacks the pin:\n%s", xml)
	}
	checkAdminRefusals(t)
	checkPages(t, len(rep.Certificates))

	// Metrics per certificate, and none left once a site is gone.
	fams := scrape(t)
	if v, ok := fams.value("pinreport_certificate_not_after_timestamp_seconds", map[string]string{"name": manualName, "issuer_kind": "manual"}); !ok || int64(v) != manual.NotAfter.Unix() {
		t.Errorf("not_after of %s: %v (present %v); want %d", manualName, v, ok, manual.NotAfter.Unix())
	}
	if v, ok := fams.value("pinreport_certificate_not_before_timestamp_seconds", map[string]string{"name": manualName, "issuer_kind": "manual"}); !ok || int64(v) != manual.NotBefore.Unix() {
		t.Errorf("not_before of %s: %v (present %v); want %d", manualName, v, ok, manual.NotBefore.Unix())
	}
	// The next config drops the manual site: its certificate leaves the
	// cache when the old config is cleaned up, without an event, and the
	// reconcile the old config asks for on its way out drops it.
	load(t, caddyfile(`
	pinreport {
		scan_interval 1h
	}`, fmt.Sprintf(`
%s {
	tls internal
	respond "internal"
}`, internal)), "caddyfile")
	eventually(t, 15*time.Second, "the not_after series of "+manualName+" to go with its site", func() (bool, string) {
		v, stale := scrape(t).value("pinreport_certificate_not_after_timestamp_seconds", map[string]string{"name": manualName})
		return !stale, fmt.Sprintf("still there: %v", v)
	})
	if _, ok := scrape(t).value("pinreport_certificate_not_after_timestamp_seconds", map[string]string{"name": internal}); !ok {
		t.Errorf("the series of %s, still served, is gone", internal)
	}
}

// checkPages reads /pinreport/ a certificate at a time, following next
// (and the Link header), and with filters.
func checkPages(t *testing.T, total int) {
	t.Helper()
	seen := map[string]bool{}
	path := "/pinreport/?limit=1"
	for range total + 1 {
		resp, err := http.Get(fmt.Sprintf("http://localhost:%d%s", adminPort, path))
		if err != nil {
			t.Fatal(err)
		}
		var rep pinreport.Report
		err = json.NewDecoder(resp.Body).Decode(&rep)
		resp.Body.Close()
		if err != nil || len(rep.Certificates) != 1 || rep.Total == nil || *rep.Total != total {
			t.Fatalf("GET %s: %v, %d certificates, total %v; want 1 of %d", path, err, len(rep.Certificates), rep.Total, total)
		}
		seen[rep.Certificates[0].SHA256Fingerprint] = true
		if rep.Next == "" {
			break
		}
		link := resp.Header.Get("Link")
		path = "/pinreport/?after=" + rep.Next + "&limit=1"
		if !strings.Contains(link, "after="+rep.Next) || !strings.HasSuffix(link, `>; rel="next"`) {
			t.Errorf("Link %q; want the next page", link)
		}
	}
	if len(seen) != total {
		t.Errorf("%d certificates seen a page at a time; want %d", len(seen), total)
	}
	if status, body := adminGet(t, "/pinreport/?issuer_kind=manual&state=ok"); status != http.StatusOK || !strings.Contains(body, `"issuer_kind":"manual"`) || strings.Contains(body, `"issuer_kind":"internal"`) {
		t.Errorf("manual certificates only: %d %s", status, body)
	}
	if status, body := adminGet(t, "/pinreport/?expiring_within=1h"); status != http.StatusOK || !strings.Contains(body, `"certificates":[]`) {
		t.Errorf("nothing expires within the hour: %d %s", status, body)
	}
	for path, want := range map[string]string{
		"/pinreport/?limit=5000":        `limit = \"5000\": is not a number from 1 to 1000; fix: ask for at most 1000`,
		"/pinreport/?state=bad":         `state = \"bad\": is not a state; fix: use ok, warning, critical or expired`,
		"/pinreport/?after=garbage":     `after = \"garbage\": is not a cursor; fix: pass the next value`,
		"/pinreport/?expiring_within=x": `expiring_within = \"x\": is not a positive duration; fix: write e.g. 72h or 14d`,
		"/pinreport/?issuer_kind=acme2": `issuer_kind = \"acme2\": is not an issuer kind; fix: use acme, internal or manual`,
	} {
		if status, body := adminGet(t, path); status != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d %s; want 400 saying %s", path, status, body, want)
		}
	}
}

// checkAdminRefusals checks the admin API's answers to what it does not
// serve.
func checkAdminRefusals(t *testing.T) {
	t.Helper()
	// Each load replaces the admin server; drop connections to old ones.
	http.DefaultClient.CloseIdleConnections()
	for _, method := range []string{http.MethodPost, http.MethodDelete} {
		req, _ := http.NewRequest(method, fmt.Sprintf("http://localhost:%d/pinreport/", adminPort), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s /pinreport/: %d, Allow %q; want 405 with Allow: GET, HEAD", method, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	for path, want := range map[string]int{
		"/pinreport/nothing.example":     http.StatusNotFound,
		"/pinreport/?format=pdf":         http.StatusBadRequest,
		"/pinreport/?format=tlsa&port=0": http.StatusBadRequest,
	} {
		if status, body := adminGet(t, path); status != want {
			t.Errorf("GET %s: %d %s; want %d", path, status, body, want)
		}
	}
}

// TestPinReportConfigErrors loads bad configs and checks that Caddy
// refuses them with an error naming the module, the field, the bad value
// and the fix.
func TestPinReportConfigErrors(t *testing.T) {
	load(t, caddyfile("\tpinreport", ""), "caddyfile") // a running Caddy to refuse the configs
	admin := fmt.Sprintf(`"admin":{"listen":"localhost:%d"}`, adminPort)
	for _, tc := range []struct {
		name, cfg, adapter string
		want               []string
	}{
		{"malformed pin", `{` + admin + `,"apps":{"pinreport":{"pins":{"a.example":["sha256/AAAA"]}}}}`, "json",
			[]string{"pinreport", `pins[\"a.example\"][0] = \"sha256/AAAA\": decodes to 3 bytes`, "44-character base64 of the SHA-256 of a SubjectPublicKeyInfo"}},
		{"webhook without scheme", `{` + admin + `,"apps":{"pinreport":{"webhook":{"url":"alerts.example/hook"}}}}`, "json",
			[]string{"pinreport", `webhook.url = \"alerts.example/hook\": has no http:// or https:// scheme; fix: write it as https://alerts.example/hook`}},
		{"thresholds in the wrong order", `{` + admin + `,"apps":{"pinreport":{"warning_before":3600000000000,"critical_before":7200000000000}}}`, "json",
			[]string{"pinreport", `critical_before = \"2h0m0s\": is not shorter than warning_before (1h0m0s)`, "fix: e.g. warning_before 14d, critical_before 3d"}},
		{"scan interval too short", `{` + admin + `,"apps":{"pinreport":{"scan_interval":1000000}}}`, "json",
			[]string{"pinreport", `scan_interval = \"1ms\": is too short; fix: use 1s or more`}},
		{"Caddyfile pin", caddyfile(`
	pinreport {
		pin a.example sha1/AAAAAAAAAAAAAAAAAAAAAAAAAAA=
	}`, ""), "caddyfile", []string{"pinreport", `pins[\"a.example\"][0] = \"sha1/AAAAAAAAAAAAAAAAAAAAAAAAAAA=\": is a sha1 pin; only SHA-256 pins are supported`, "Caddyfile:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := loadError(t, tc.cfg, tc.adapter)
			t.Log(got)
			for _, want := range tc.want {
				if !strings.Contains(got, strings.ReplaceAll(want, `\"`, `"`)) && !strings.Contains(got, want) {
					t.Errorf("error %q lacks %q", got, want)
				}
			}
		})
	}
}
