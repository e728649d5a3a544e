package tlsguard

import (
	"crypto/x509"
	"encoding/json"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/hardtls/caddy-hardtls/internal/testpki"
)

// TestCTLintThroughCaddy loads a Caddy config (without starting it) whose
// tls app holds two manual certificates carrying SCT lists, one embedding
// two logs and one a single log, both from a CA the test's root store
// trusts, and checks the report tlsguard builds from Caddy's certificate
// cache: the SCTs per certificate, and the finding for the one with too
// few.
func TestCTLintThroughCaddy(t *testing.T) {
	root := testpki.NewCA(t, "CT app root", nil)
	issuing := root.Intermediate(t, "CT app issuing CA")
	logA, logB := testpki.LogIDFor("log a"), testpki.LogIDFor("log b")
	sctOf := func(id [32]byte) []byte { return testpki.SCT{LogID: id, Timestamp: root.Cert.NotBefore}.Marshal() }
	dir := t.TempDir()
	loadFiles := func(name string, scts ...[]byte) json.RawMessage {
		c := issuing.IssueWith(t, testpki.Leaf{Names: []string{name}}, testpki.WithSCTList(testpki.SCTList(scts...)))
		certFile, keyFile := testpki.WritePEM(t, dir, name, c)
		b, _ := json.Marshal(map[string]string{"certificate": certFile, "key": keyFile})
		return b
	}
	good, short := loadFiles("good.example", sctOf(logA), sctOf(logB)), loadFiles("short.example", sctOf(logA))
	storage, _ := json.Marshal(map[string]string{"module": "file_system", "root": t.TempDir()})
	cfg := `{
		"storage": ` + string(storage) + `,
		"apps": {
			"http": {"servers": {"srv0": {
				"listen": [":0"],
				"routes": [{"match": [{"host": ["good.example", "short.example"]}], "handle": [{"handler": "static_response", "body": "ok"}]}],
				"tls_connection_policies": [{}],
				"automatic_https": {"disable": true}
			}}},
			"tls": {"certificates": {"load_files": [` + string(good) + `, ` + string(short) + `]}},
			"tlsguard": {"mode": "audit"}
		}
	}`
	var c caddy.Config
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		t.Fatal(err)
	}
	ctx, err := caddy.ProvisionContext(&c)
	if err != nil {
		t.Fatal(err)
	}
	// caddy.ProvisionContext gives no way to clean the config up; the
	// test process ends soon, as after the other provisioning tests.
	appIface, err := ctx.App("tlsguard")
	if err != nil {
		t.Fatal(err)
	}
	app := appIface.(*App)
	trusted := x509.NewCertPool()
	trusted.AddCert(root.Cert)
	app.facts.roots = trusted // this machine's store does not hold the test root

	r := app.Report()
	byName := map[string]CertReport{}
	for _, cr := range r.Certificates {
		byName[cr.Names[0]] = cr
	}
	g, s := byName["good.example"], byName["short.example"]
	if g.CT == nil || s.CT == nil {
		t.Fatalf("certificates %+v", r.Certificates)
	}
	if g.CT.Embedded != 2 || g.CT.Trust != TrustPublic || !g.CT.Policy.Compliant || g.CT.SCTs[1].LogID != logB {
		t.Errorf("good.example ct %+v", g.CT)
	}
	if s.CT.Embedded != 1 || s.CT.Trust != TrustPublic || s.CT.Policy.Compliant || s.CT.SCTs[0].LogID != logA {
		t.Errorf("short.example ct %+v", s.CT)
	}
	var ct []Finding
	for _, f := range r.Findings {
		if f.Code == "cert.ct.too_few_scts" {
			ct = append(ct, f)
		}
	}
	if len(ct) != 1 || ct[0].Severity != SeverityError || ct[0].Certificate != s.label() {
		t.Errorf("CT findings %+v, want one error for %s", ct, s.label())
	}
}
