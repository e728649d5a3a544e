package pinreport

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/hardtls/caddy-hardtls/internal/certs"
)

func TestEntriesFor(t *testing.T) {
	mk := func(names ...string) *entry {
		return &entry{Facts: certs.Facts{Names: names, Leaf: &x509.Certificate{}}}
	}
	wild, exact, other := mk("*.a.example"), mk("x.a.example", "y.a.example"), mk("b.example")
	entries := []*entry{wild, exact, other}
	for _, tc := range []struct {
		name string
		want []*entry
	}{
		{"x.a.example", []*entry{exact, wild}}, // exact first
		{"Y.A.example", []*entry{exact, wild}},
		{"z.a.example", []*entry{wild}},
		{"a.example", nil},
		{"q.z.a.example", nil},
		{"*.a.example", []*entry{wild}},
	} {
		got := entriesFor(entries, tc.name)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d entries, want %d", tc.name, len(got), len(tc.want))
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: entry %d is %v, want %v", tc.name, i, got[i].Names, tc.want[i].Names)
			}
		}
	}
}

func TestCertificateReportStatus(t *testing.T) {
	ca := newTestCA(t, "report")
	tc := newTestCache(t)
	now := time.Now().Truncate(time.Second)
	cert := tc.add(t, ca.leaf(t, []string{"a.example"}, now.Add(-time.Hour), now.Add(89*24*time.Hour), nil))
	s := newState()
	in := certs.NewInterner()
	ariAt := now.Add(50 * 24 * time.Hour)
	e := newEntry(&cert, certs.Origin{Kind: KindACME, IssuerKey: "acme-ca", ARIAt: ariAt, ARIStart: ariAt.Add(-time.Hour), ARIEnd: ariAt.Add(time.Hour)}, 0, in)

	s.renewals.obtained("a.example", "acme-ca", now.Add(-time.Hour))
	for range 3 {
		s.renewals.failed("a.example", "CA down", now)
	}

	c := reporter{renewals: s.renewals}.certificate(e, now)
	if c.IssuerKind != "acme" || c.IssuerKey != "acme-ca" || c.Renewal.Source != "ari" || !c.Renewal.ExpectedAt.Equal(ariAt) {
		t.Errorf("kind %s/%s, renewal %+v", c.IssuerKind, c.IssuerKey, c.Renewal)
	}
	if c.Renewal.ARIWindowStart == nil || c.Renewal.LastError != "CA down" || c.Renewal.ConsecutiveFailures != 3 {
		t.Errorf("renewal status %+v", c.Renewal)
	}
	if c.LifetimeSeconds != 89*24*3600+3600 || c.RemainingSeconds != 89*24*3600 {
		t.Errorf("lifetime %d, remaining %d", c.LifetimeSeconds, c.RemainingSeconds)
	}

	// A success after the failure hides the failure.
	s.renewals.obtained("a.example", "acme-ca", now.Add(time.Minute))
	if c := (reporter{renewals: s.renewals}).certificate(e, now); c.Renewal.LastFailure != nil || c.Renewal.LastError != "" {
		t.Errorf("failure before the last success still reported: %+v", c.Renewal)
	}
}
