package pinreport

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// discard is a ResponseWriter that throws the body away.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkRenderReport measures GET /pinreport/ (JSON) over an
// inventory of n certificates.
func BenchmarkRenderReport(b *testing.B) {
	for _, n := range benchSizes {
		tc, names := benchCache(b, n)
		a := benchApp(tc, names)
		a.scan()
		req := httptest.NewRequest(http.MethodGet, "/pinreport/", nil)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := a.serveHTTP(&discard{h: make(http.Header)}, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
