package pinreport

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"
)

// store writes a certificate where certmagic keeps managed ones, with
// metadata holding an ARI window when ari is not zero.
func store(t *testing.T, fs *certmagic.FileStorage, issuerKey, name string, cert certmagic.Certificate, ari time.Time) {
	t.Helper()
	ctx := context.Background()
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Leaf.Raw})
	if err := fs.Store(ctx, certmagic.StorageKeys.SiteCert(issuerKey, name), pemBytes); err != nil {
		t.Fatal(err)
	}
	meta := map[string]any{"sans": []string{name}}
	if !ari.IsZero() {
		meta["issuer_data"] = map[string]any{
			"url": "https://ca.example/cert/1",
			"renewal_info": map[string]any{
				"suggestedWindow": map[string]any{"start": ari.Add(-time.Hour), "end": ari.Add(time.Hour)},
				"_selectedTime":   ari,
			},
		}
	}
	b, _ := json.Marshal(meta)
	if err := fs.Store(ctx, certmagic.StorageKeys.SiteMeta(issuerKey, name), b); err != nil {
		t.Fatal(err)
	}
}

func TestClassifier(t *testing.T) {
	ca := newTestCA(t, "classify")
	tc := newTestCache(t)
	now := time.Now().Truncate(time.Second)
	issue := func(name string) certmagic.Certificate {
		return tc.add(t, ca.leaf(t, []string{name}, now, now.Add(90*24*time.Hour), nil))
	}
	acmeCert, internalCert, manualCert, staleCert := issue("acme.example"), issue("internal.example"), issue("manual.example"), issue("stale.example")
	fs := &certmagic.FileStorage{Path: t.TempDir()}
	ari := now.Add(55 * 24 * time.Hour)
	store(t, fs, "acme-v02.ca.example-directory", "acme.example", acmeCert, ari)
	store(t, fs, "local", "internal.example", internalCert, time.Time{})
	// storage holds another certificate for stale.example: the cached
	// one was loaded by the config.
	store(t, fs, "acme-v02.ca.example-directory", "stale.example", issue("stale.example"), time.Time{})

	c := &classifier{ctx: context.Background(), storage: fs, caKeys: map[string]string{}, internalIDs: map[string]bool{"local": true}}
	for _, tc := range []struct {
		cert      certmagic.Certificate
		kind      IssuerKind
		issuerKey string
		ari       time.Time
	}{
		{acmeCert, KindACME, "acme-v02.ca.example-directory", ari},
		{internalCert, KindInternal, "local", time.Time{}},
		{manualCert, KindManual, "", time.Time{}},
		{staleCert, KindManual, "", time.Time{}},
	} {
		o := c.origin(tc.cert)
		if o.kind != tc.kind || o.issuerKey != tc.issuerKey || !o.ariAt.Equal(tc.ari) {
			t.Errorf("%s: origin %+v; want %s from %q, ARI %s", tc.cert.Names[0], o, tc.kind, tc.issuerKey, tc.ari)
		}
	}
	if e := newEntry(acmeCert, c.origin(acmeCert), 0, newInterner()); !e.renewAt.Equal(ari) {
		t.Errorf("renewAt %s; want the stored ARI time %s", e.renewAt, ari)
	}

	// A leaf signed by one of Caddy's CAs is internal without storage.
	c = &classifier{ctx: context.Background(), caKeys: map[string]string{string(ca.inter.SubjectKeyId): "local"}}
	if o := c.origin(manualCert); o.kind != KindInternal || o.issuerKey != "local" {
		t.Errorf("leaf of Caddy's intermediate: %+v", o)
	}
}

func TestClassifierRatio(t *testing.T) {
	c := &classifier{}
	if got := c.ratio([]string{"a.example"}); got != certmagic.DefaultRenewalWindowRatio {
		t.Errorf("no policies: ratio %v", got)
	}
	c.policies = []*caddytls.AutomationPolicy{{RenewalWindowRatio: 0.5}}
	if got := c.ratio([]string{"a.example"}); got != 0.5 {
		t.Errorf("catch-all policy with ratio 0.5: %v", got)
	}
}
