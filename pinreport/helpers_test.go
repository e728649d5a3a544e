package pinreport

import (
	"crypto"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/hardtls/caddy-hardtls/internal/certs/certstest"
	"github.com/hardtls/caddy-hardtls/internal/testpki"
)

// testCA is a two-level CA (root and intermediate) for test
// certificates; leaves are served with the intermediate.
type testCA struct {
	root, inter *x509.Certificate
	issuer      *testpki.CA
}

func newKey(tb testing.TB) crypto.Signer { return testpki.ECDSAKey(tb, elliptic.P256()) }

func rsaKey(tb testing.TB) crypto.Signer     { return testpki.RSAKey(tb, 2048) }
func ed25519Key(tb testing.TB) crypto.Signer { return testpki.Ed25519Key(tb) }

func newTestCA(tb testing.TB, name string) *testCA {
	tb.Helper()
	root := testpki.NewCA(tb, name+" Root", nil)
	inter := root.Intermediate(tb, name+" Intermediate")
	return &testCA{root: root.Cert, inter: inter.Cert, issuer: inter}
}

// leaf issues a certificate for names valid from nb to na with key (a
// new key when nil), served with the intermediate.
func (ca *testCA) leaf(tb testing.TB, names []string, nb, na time.Time, key crypto.Signer) tls.Certificate {
	tb.Helper()
	return ca.issuer.Issue(tb, testpki.Leaf{Names: names, Key: key, NotBefore: nb, Lifetime: na.Sub(nb)})
}

// testCache is a certificate cache of its own, so tests do not touch
// Caddy's global one.
type testCache struct{ cache *certstest.Cache }

func newTestCache(tb testing.TB) *testCache { return &testCache{cache: certstest.New(tb)} }

// add caches a certificate as a manually loaded one and returns the
// cache's record of it.
func (tc *testCache) add(tb testing.TB, cert tls.Certificate) certmagic.Certificate {
	tb.Helper()
	return tc.cache.Add(tb, cert)
}

// remove drops a certificate from the cache.
func (tc *testCache) remove(c certmagic.Certificate) { tc.cache.Drop(c) }

// certFor returns the cached certificate of name.
func certFor(tb testing.TB, tc *testCache, name string) certmagic.Certificate {
	tb.Helper()
	found := tc.cache.AllMatchingCertificates(name)
	if len(found) != 1 {
		tb.Fatalf("%d certificates cached for %s, want 1", len(found), name)
	}
	return found[0]
}

func mustLeaf(tb testing.TB, tc *testCache, name string) *x509.Certificate {
	tb.Helper()
	return certFor(tb, tc, name).Leaf
}

// testApp returns an app wired to a test cache, a fresh state and an
// observed logger, without a Caddy config: reconciles look names up as
// if the config served them.
func testApp(tb testing.TB, tc *testCache, names ...string) (*App, *observer.ObservedLogs) {
	tb.Helper()
	core, logs := observer.New(zap.DebugLevel)
	a := &App{
		logger:     zap.New(core),
		now:        time.Now,
		lookup:     tc.cache.AllMatchingCertificates,
		state:      newState(),
		extraNames: slices.Sorted(slices.Values(names)),
	}
	return a, logs
}

// reconcile runs a full reconcile, under a new policy if the app's
// thresholds or pins changed since the last one (as a new config would).
func reconcile(a *App) {
	if a.policy == nil || a.policy.th != a.thresholds || !reflect.DeepEqual(a.policy.rules, a.rules) {
		a.policy = a.state.newPolicy(a.thresholds, a.rules)
	}
	a.reconcile()
}

// settle does what the loop would: looks up every name events
// announced, whenever due, and applies the level changes due at the
// app's clock.
func settle(a *App) {
	now := a.now()
	a.lookUpPending(a.state.pending.take(now.Add(time.Hour)), now)
	a.advance(now)
}

// clock is a settable clock for tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// found is what a reconcile finding cached would pass to the inventory.
func found(cached []certmagic.Certificate) []*certmagic.Certificate {
	var out []*certmagic.Certificate
	for i := range cached {
		if cached[i].Leaf != nil {
			out = append(out, &cached[i])
		}
	}
	return out
}
