package tlsguard

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	_ "github.com/caddyserver/caddy/v2/modules/filestorage"
	"github.com/caddyserver/certmagic"

	"github.com/hardtls/caddy-hardtls/internal/certs"
	"github.com/hardtls/caddy-hardtls/internal/certs/certstest"
	"github.com/hardtls/caddy-hardtls/internal/testpki"
)

// TestFactCacheKeepsFactsWhileServed: a certificate's facts are computed
// once (classifying it may read storage) and dropped once it is no
// longer served.
func TestFactCacheKeepsFactsWhileServed(t *testing.T) {
	root, err := json.Marshal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	storage := json.RawMessage(`{"module": "file_system", "root": ` + string(root) + `}`)
	ctx, err := caddy.ProvisionContext(&caddy.Config{StorageRaw: storage})
	if err != nil {
		t.Fatal(err)
	}
	fc := newFactCache(nil)
	ca := testpki.NewCA(t, "facts CA", nil)
	cache := certstest.New(t)
	c1 := cache.Add(t, ca.Issue(t, testpki.Leaf{Names: []string{"a.example"}}))
	c2 := cache.Add(t, ca.Issue(t, testpki.Leaf{Names: []string{"b.example"}}))

	first := fc.of(ctx, []*certmagic.Certificate{&c1, &c2}, time.Now())
	if len(first) != 2 || first[0].Hash != c1.Hash() || first[1].Hash != c2.Hash() || first[0].Kind != certs.KindManual {
		t.Fatalf("facts %+v", first)
	}
	again := fc.of(ctx, []*certmagic.Certificate{&c2}, time.Now())
	if len(again) != 1 || again[0] != first[1] {
		t.Errorf("the facts of a certificate still served were computed again")
	}
	if len(fc.certs) != 1 {
		t.Errorf("%d facts kept; want only the served certificate's", len(fc.certs))
	}
}
