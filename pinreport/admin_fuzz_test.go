package pinreport

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzAdminPath sends arbitrary paths and queries to the admin API of an
// app holding certificates: every answer is a 2xx or a 4xx (never a 5xx or
// a panic), and no answer carries key material.
func FuzzAdminPath(f *testing.F) {
	a, _ := adminApp(f)
	for _, seed := range [][2]string{
		{"", ""}, {"a.example", ""}, {"A.EXAMPLE", "format=okhttp"}, {"x.w.example", "format=tlsa&port=8443&proto=udp"},
		{"", "format=android"}, {"", "format=pdf"}, {"", "format=tlsa&port=0"}, {"a.example/extra", ""},
		{"../../config", ""}, {"%00", ""}, {strings.Repeat("a", 5000), ""}, {"a.example", "format=tlsa&proto=%0d%0a"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, name, rawQuery string) {
		r := &http.Request{
			Method: http.MethodGet,
			URL:    &url.URL{Path: "/pinreport/" + name, RawQuery: rawQuery},
			Header: http.Header{},
		}
		w := httptest.NewRecorder()
		err := a.serveHTTP(w, r)
		if err != nil {
			if status := apiStatus(err); status < 400 || status > 499 {
				t.Fatalf("GET /pinreport/%q?%s: error %v with status %d, want a 4xx", name, rawQuery, err, status)
			}
			return
		}
		if w.Code != http.StatusOK {
			t.Fatalf("GET /pinreport/%q?%s: status %d", name, rawQuery, w.Code)
		}
		if body := w.Body.String(); strings.Contains(body, "PRIVATE KEY") {
			t.Fatalf("GET /pinreport/%q?%s returned key material", name, rawQuery)
		}
	})
}
