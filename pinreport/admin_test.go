package pinreport

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// adminApp is a scanned app holding a.example and a wildcard
// *.w.example, with expected pins for a.example.
func adminApp(t testing.TB) (*App, *testCA) {
	t.Helper()
	ca := newTestCA(t, "admin")
	tc := newTestCache(t)
	now := time.Now()
	tc.add(t, ca.leaf(t, []string{"a.example"}, now, now.Add(24*time.Hour), nil))
	tc.add(t, ca.leaf(t, []string{"*.w.example"}, now, now.Add(24*time.Hour), nil))
	a, _ := testApp(t, tc, "a.example", "*.w.example")
	var err error
	if a.rules, err = compilePins(map[string][]string{"a.example": {SPKIPin(ca.inter).String(), Pin{1}.String()}}); err != nil {
		t.Fatal(err)
	}
	reconcile(a)
	return a, ca
}

func serve(t *testing.T, a *App, method, target string) (*httptest.ResponseRecorder, error) {
	t.Helper()
	w := httptest.NewRecorder()
	err := a.serveHTTP(w, httptest.NewRequest(method, target, nil))
	return w, err
}

func apiStatus(err error) int {
	var apiErr caddy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.HTTPStatus
	}
	return 0
}

func TestAdminJSON(t *testing.T) {
	a, ca := adminApp(t)
	w, err := serve(t, a, http.MethodGet, "/pinreport/")
	if err != nil {
		t.Fatal(err)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var rep Report
	if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Certificates) != 2 || rep.Certificates[0].Names[0] != "*.w.example" || rep.ScannedAt.IsZero() {
		t.Fatalf("report: %d certificates, first %v, scanned %s", len(rep.Certificates), rep.Certificates[0].Names, rep.ScannedAt)
	}
	if strings.Contains(w.Body.String(), "PRIVATE") {
		t.Error("the report mentions a private key")
	}

	w, err = serve(t, a, http.MethodGet, "/pinreport/A.example")
	if err != nil {
		t.Fatal(err)
	}
	rep = Report{}
	json.Unmarshal(w.Body.Bytes(), &rep)
	if rep.Name != "a.example" || len(rep.Certificates) != 1 {
		t.Fatalf("/pinreport/A.example: %+v", rep)
	}
	c := rep.Certificates[0]
	if c.IssuerKind != "manual" || c.State != "ok" || c.KeyType != "ecdsa" || c.KeyBits != 256 || len(c.TLSA) != 2 {
		t.Errorf("certificate %+v", c)
	}
	if len(c.Chain) != 1 || c.Chain[0].SPKIPin != SPKIPin(ca.inter).String() {
		t.Errorf("chain %+v; want the intermediate", c.Chain)
	}
	if len(c.ExpectedPins) != 1 || !c.ExpectedPins[0].Match || !c.ExpectedPins[0].Backup {
		t.Errorf("expected pins %+v; want a match with a backup", c.ExpectedPins)
	}
	if c.Renewal.Source != "window" || !c.Renewal.ExpectedAt.Equal(renewalPoint(c.NotBefore, c.NotAfter, 0)) {
		t.Errorf("renewal %+v", c.Renewal)
	}

	// A name served by the wildcard.
	w, err = serve(t, a, http.MethodGet, "/pinreport/x.w.example")
	if err != nil {
		t.Fatal(err)
	}
	rep = Report{}
	json.Unmarshal(w.Body.Bytes(), &rep)
	if len(rep.Certificates) != 1 || rep.Certificates[0].Names[0] != "*.w.example" {
		t.Errorf("x.w.example: %+v", rep.Certificates)
	}
}

func TestAdminErrors(t *testing.T) {
	a, _ := adminApp(t)
	for _, tc := range []struct {
		target string
		status int
	}{
		{"/pinreport/none.example", http.StatusNotFound},
		{"/pinreport/a.example/tlsa", http.StatusNotFound},
		{"/pinreport/?format=yaml", http.StatusBadRequest},
		{"/pinreport/?format=tlsa&port=0", http.StatusBadRequest},
		{"/pinreport/?format=tlsa&port=x", http.StatusBadRequest},
		{"/pinreport/?format=tlsa&proto=sctp", http.StatusBadRequest},
	} {
		if _, err := serve(t, a, http.MethodGet, tc.target); apiStatus(err) != tc.status {
			t.Errorf("GET %s: error %v; want status %d", tc.target, err, tc.status)
		}
	}
	// Only GET (and HEAD) are allowed, whether or not the app runs.
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		w := httptest.NewRecorder()
		err := serveAdmin(w, httptest.NewRequest(m, "/pinreport/", nil))
		if apiStatus(err) != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: error %v, Allow %q; want 405 with Allow: GET, HEAD", m, err, w.Header().Get("Allow"))
		}
	}
	// No running config with a pinreport app.
	err := serveAdmin(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/pinreport/", nil))
	if apiStatus(err) != http.StatusNotFound || !strings.Contains(err.Error(), "pinreport global option") {
		t.Errorf("without the app: %v", err)
	}
	routes := adminAPI{}.Routes()
	if len(routes) != 1 || routes[0].Pattern != "/pinreport/" {
		t.Errorf("routes %+v", routes)
	}
}

func TestAdminTextFormats(t *testing.T) {
	a, ca := adminApp(t)
	leaf := a.state.inv.all()[0] // *.w.example sorts first
	for _, tc := range []struct {
		target string
		want   []string
	}{
		{"/pinreport/?format=tlsa", []string{
			"_443._tcp.a.example. IN TLSA 3 1 1 ",
			"_443._tcp.a.example. IN TLSA 2 1 1 " + SPKIPin(ca.inter).Hex(),
			"; *.w.example is a wildcard",
			"_443._tcp.<host>.w.example. IN TLSA 3 1 1 " + leaf.SPKI.Hex(),
		}},
		{"/pinreport/a.example?format=tlsa&port=8443&proto=udp", []string{"_8443._udp.a.example. IN TLSA 2 1 1 "}},
		{"/pinreport/a.example?format=okhttp", []string{
			"CertificatePinner.Builder()",
			`.add("a.example", "sha256/` + SPKIPin(ca.inter).String() + `")`,
			`.add("a.example", "sha256/` + Pin{1}.String() + `") // expected pin of a.example`,
			".build()",
		}},
		{"/pinreport/x.w.example?format=android", []string{
			`<domain includeSubdomains="true">w.example</domain>`,
			`<pin digest="SHA-256">` + leaf.SPKI.String() + `</pin>`,
			// the intermediate outlives the leaf
			`<pin-set expiration="` + leaf.Chain[0].NotAfter.UTC().Format(time.DateOnly) + `">`,
		}},
	} {
		w, err := serve(t, a, http.MethodGet, tc.target)
		if err != nil {
			t.Fatalf("GET %s: %v", tc.target, err)
		}
		for _, want := range tc.want {
			if !strings.Contains(w.Body.String(), want) {
				t.Errorf("GET %s lacks %q:\n%s", tc.target, want, w.Body.String())
			}
		}
	}
}
