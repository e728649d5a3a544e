package certs

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/hardtls/caddy-hardtls/internal/testpki"
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

func newClassifier(storage certmagic.Storage) *Classifier {
	return &Classifier{ctx: context.Background(), storage: storage, caKeys: map[string]string{}, internalIDs: map[string]bool{}}
}

func TestClassifier(t *testing.T) {
	tc := newTestCache(t)
	now := time.Now().Truncate(time.Second)
	issue := func(name string) certmagic.Certificate { return tc.add(t, []string{name}, now, 90*24*time.Hour) }
	acmeCert, internalCert, manualCert, staleCert := issue("acme.example"), issue("internal.example"), issue("manual.example"), issue("stale.example")
	fs := &certmagic.FileStorage{Path: t.TempDir()}
	ari := now.Add(55 * 24 * time.Hour)
	store(t, fs, "acme-v02.ca.example-directory", "acme.example", acmeCert, ari)
	store(t, fs, "local", "internal.example", internalCert, time.Time{})
	// storage holds another certificate for stale.example: the cached
	// one was loaded by the config.
	store(t, fs, "acme-v02.ca.example-directory", "stale.example", issue("stale.example"), time.Time{})

	c := newClassifier(fs)
	c.AddCA("local") // a CA whose certificates are not known: its issuer key is
	for _, want := range []struct {
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
		o := c.Origin(&want.cert)
		if o.Kind != want.kind || o.IssuerKey != want.issuerKey || !o.ARI.At().Equal(want.ari) {
			t.Errorf("%s: origin %+v; want %s from %q, ARI %s", want.cert.Names[0], o, want.kind, want.issuerKey, want.ari)
		}
	}

	// A leaf signed by one of Caddy's CAs is internal without storage.
	c = newClassifier(nil)
	c.AddCA("local", tc.ca.Cert)
	if o := c.Origin(&manualCert); o.Kind != KindInternal || o.IssuerKey != "local" {
		t.Errorf("leaf of Caddy's intermediate: %+v", o)
	}
}

// TestClassifierLocalCAName: with no CA of Caddy's known (no pki app), a
// leaf whose issuer carries the name of Caddy's local CA is internal.
func TestClassifierLocalCAName(t *testing.T) {
	local := testpki.NewCA(t, "Caddy Local Authority - 2026 ECC Root", nil).Intermediate(t, "Caddy Local Authority - ECC Intermediate")
	tc := newTestCache(t)
	cert := tc.addCert(t, local.Issue(t, testpki.Leaf{Names: []string{"local.example"}}))
	if o := newClassifier(nil).Origin(&cert); o.Kind != KindInternal {
		t.Errorf("leaf of a Caddy Local Authority: %s", o.Kind)
	}
	c := newClassifier(nil)
	c.AddCA("local", tc.ca.Cert) // another CA is known: the name no longer decides
	if o := c.Origin(&cert); o.Kind != KindManual {
		t.Errorf("with Caddy's CA known, a leaf of another CA of that name: %s", o.Kind)
	}
}

func TestIssuerKindString(t *testing.T) {
	for k, want := range map[IssuerKind]string{KindManual: "manual", KindACME: "acme", KindInternal: "internal"} {
		if k.String() != want {
			t.Errorf("kind %d is %q, want %q", k, k, want)
		}
	}
}

// TestClassifierDuringRenewal: certmagic stores a renewed certificate
// before its cache holds it, so storage may hold the successor of the
// cached leaf. That is still a managed certificate; another CA's
// certificate, an older one or one for other names is not.
func TestClassifierDuringRenewal(t *testing.T) {
	tc := newTestCache(t)
	now := time.Now().Truncate(time.Second)
	const dir = "acme-v02.ca.example-directory"
	other := testpki.NewCA(t, "other root", nil).Intermediate(t, "other intermediate")
	for _, tt := range []struct {
		name   string
		stored func(name string) certmagic.Certificate
		want   IssuerKind
	}{
		{"renewal stored first", func(n string) certmagic.Certificate {
			return tc.add(t, []string{n}, now.Add(time.Minute), 90*24*time.Hour)
		}, KindACME},
		{"older certificate stored", func(n string) certmagic.Certificate {
			return tc.add(t, []string{n}, now.Add(-time.Hour), 90*24*time.Hour)
		}, KindManual},
		{"another CA's certificate", func(n string) certmagic.Certificate {
			return tc.addCert(t, other.Issue(t, testpki.Leaf{Names: []string{n}, NotBefore: now.Add(time.Minute)}))
		}, KindManual},
		{"other names", func(n string) certmagic.Certificate {
			return tc.add(t, []string{n, "www." + n}, now.Add(time.Minute), 90*24*time.Hour)
		}, KindManual},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := strings.NewReplacer(" ", "-", "'", "").Replace(strings.ToLower(tt.name)) + ".example"
			cached := tc.add(t, []string{name}, now, 90*24*time.Hour)
			fs := &certmagic.FileStorage{Path: t.TempDir()}
			store(t, fs, dir, name, tt.stored(name), now.Add(50*24*time.Hour))
			o := newClassifier(fs).Origin(&cached)
			if o.Kind != tt.want {
				t.Fatalf("origin %+v; want %s", o, tt.want)
			}
			if o.Kind == KindACME && (o.IssuerKey != dir || !o.ARI.IsZero()) {
				t.Errorf("origin %+v; want issuer key %s and no ARI (the stored metadata is the renewal's)", o, dir)
			}
		})
	}
}
