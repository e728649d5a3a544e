package pinreport

import (
	"slices"
	"testing"
	"time"

	"github.com/hardtls/caddy-hardtls/internal/certs"
)

func TestLookupEntries(t *testing.T) {
	ca := newTestCA(t, "lookup")
	tc := newTestCache(t)
	now := time.Now()
	wild := tc.add(t, ca.leaf(t, []string{"*.a.example"}, now, now.Add(time.Hour), nil))
	exact := tc.add(t, ca.leaf(t, []string{"x.a.example", "y.a.example"}, now, now.Add(time.Hour), nil))
	tc.add(t, ca.leaf(t, []string{"b.example"}, now, now.Add(time.Hour), nil))
	a, _ := testApp(t, tc, "*.a.example", "x.a.example", "b.example")
	reconcile(a)
	for _, tc := range []struct {
		name string
		want []string // hashes
	}{
		{"x.a.example", []string{exact.Hash(), wild.Hash()}}, // exact first
		{"y.a.example", []string{exact.Hash(), wild.Hash()}},
		{"z.a.example", []string{wild.Hash()}},
		{"a.example", nil},
		{"q.z.a.example", nil},
		{"*.a.example", []string{wild.Hash()}},
	} {
		var got []string
		for _, e := range a.state.inv.lookupEntries(tc.name, a.lookup) {
			got = append(got, e.Hash)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: entries %v, want %v", tc.name, got, tc.want)
		}
	}
}

// Right after a renewal the cache serves a certificate the inventory has
// not taken in yet: the name answers with the entry it replaces until the
// event is handled, not with nothing (GET /pinreport/<name> was a 404 for
// that moment); a name nothing serves still finds nothing.
func TestLookupEntriesDuringRenewal(t *testing.T) {
	ca := newTestCA(t, "renewal")
	tc := newTestCache(t)
	now := time.Now()
	old := tc.add(t, ca.leaf(t, []string{"r.example"}, now, now.Add(time.Hour), nil))
	a, _ := testApp(t, tc, "r.example")
	reconcile(a)
	tc.remove(old)
	renewed := tc.add(t, ca.leaf(t, []string{"r.example"}, now, now.Add(2*time.Hour), nil))
	got := a.state.inv.lookupEntries("r.example", a.lookup)
	if len(got) != 1 || got[0].Hash != old.Hash() {
		t.Fatalf("before the inventory takes in the renewal: %d entries; want the one it replaces", len(got))
	}
	reconcile(a)
	if got := a.state.inv.lookupEntries("r.example", a.lookup); len(got) != 1 || got[0].Hash != renewed.Hash() {
		t.Fatalf("after: %d entries; want the renewed one", len(got))
	}
	tc.remove(renewed)
	if got := a.state.inv.lookupEntries("r.example", a.lookup); len(got) != 0 {
		t.Errorf("a name the cache no longer serves: %d entries; want none", len(got))
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
	e := newEntry(&cert, certs.Origin{Kind: KindACME, IssuerKey: "acme-ca", ARI: certs.NewARI(ariAt, ariAt.Add(-time.Hour), ariAt.Add(time.Hour))}, 0, in)

	s.renewals.obtained("a.example", now.Add(-time.Hour))
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
	s.renewals.obtained("a.example", now.Add(time.Minute))
	if c := (reporter{renewals: s.renewals}).certificate(e, now); c.Renewal.LastFailure != nil || c.Renewal.LastError != "" {
		t.Errorf("failure before the last success still reported: %+v", c.Renewal)
	}
}
