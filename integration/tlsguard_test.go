package integration

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/hardtls/caddy-hardtls/tlsguard"
)

// TestTLSGuardModern: under modern in enforce mode, the policy the
// Caddyfile leaves to Caddy's defaults gets TLS 1.3 only.
func TestTLSGuardModern(t *testing.T) {
	mark := logMark()
	load(t, caddyfile("local_certs\n\ttlsguard modern", `
localhost {
	hsts
	respond "ok"
}
`), "caddyfile")
	roots := localRoot(t)
	waitCert(t, "localhost", roots)

	t.Run("tls1.3_client", func(t *testing.T) {
		wantHandshake(t, "localhost", &tls.Config{RootCAs: roots}, true, tls.VersionTLS13)
	})
	t.Run("tls1.2_client", func(t *testing.T) {
		wantHandshake(t, "localhost", &tls.Config{RootCAs: roots, MaxVersion: tls.VersionTLS12}, false, 0)
	})
	t.Run("report", func(t *testing.T) {
		r := tlsguardReport(t)
		if r.Profile != "modern" || r.Mode != "enforce" {
			t.Errorf("profile %s mode %s", r.Profile, r.Mode)
		}
		pol := r.Servers[0].Policies[0]
		if !slices.Equal(pol.Versions, []string{"tls1.3"}) {
			t.Errorf("versions %v, want [tls1.3]", pol.Versions)
		}
		if len(pol.Changes) == 0 || pol.Changes[0] != (tlsguard.Change{Field: "protocol_min", From: "tls1.2", To: "tls1.3"}) {
			t.Errorf("changes %+v, want protocol_min tls1.2 -> tls1.3 first", pol.Changes)
		}
	})
	t.Run("log", func(t *testing.T) {
		entries := logsSince(t, mark, "applied profile to connection policy", 5*time.Second)
		if len(entries) == 0 || entries[0]["field"] != "protocol_min" || entries[0]["to"] != "tls1.3" || entries[0]["mode"] != "enforce" {
			t.Errorf("log %v", entries)
		}
	})
	t.Run("openssl", func(t *testing.T) {
		wantOpenSSL(t, "localhost", true, "TLSv1.3", "-tls1_3")
		wantOpenSSL(t, "localhost", false, "", "-tls1_2")
		wantOpenSSL(t, "localhost", false, "", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
		wantOpenSSL(t, "localhost", false, "", "-tls1", "-cipher", "DEFAULT@SECLEVEL=0")
	})
}

// TestTLSGuardIntermediate: the default profile refuses the ECDHE CBC-SHA1
// suites Caddy would accept, and TLS 1.0/1.1.
func TestTLSGuardIntermediate(t *testing.T) {
	load(t, caddyfile("local_certs\n\ttlsguard", rsaSite("rsa.localhost", "")), "caddyfile")
	roots := localRoot(t)
	waitCert(t, "rsa.localhost", roots)

	t.Run("cbc_only_client", func(t *testing.T) {
		wantHandshake(t, "rsa.localhost", withRoots(cbcRSAOnly, roots), false, 0)
	})
	t.Run("gcm_rsa_client", func(t *testing.T) {
		wantHandshake(t, "rsa.localhost", withRoots(gcmRSAOnly, roots), true, tls.VersionTLS12)
	})
	t.Run("tls1.3_client", func(t *testing.T) {
		wantHandshake(t, "rsa.localhost", &tls.Config{RootCAs: roots}, true, tls.VersionTLS13)
	})
	t.Run("openssl", func(t *testing.T) {
		wantOpenSSL(t, "rsa.localhost", true, "TLSv1.3", "-tls1_3")
		wantOpenSSL(t, "rsa.localhost", true, "TLSv1.2", "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
		wantOpenSSL(t, "rsa.localhost", false, "", "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA")
		wantOpenSSL(t, "rsa.localhost", false, "", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
		wantOpenSSL(t, "rsa.localhost", false, "", "-tls1", "-cipher", "DEFAULT@SECLEVEL=0")
	})
}

// TestTLSGuardEnforceRefuses loads a good config, then offers configs that
// violate the profile: each is refused with a message that names the
// setting, and the good config keeps serving.
func TestTLSGuardEnforceRefuses(t *testing.T) {
	// The header makes this config differ from any loaded before, so that
	// it really starts (Caddy skips a /load of the running config) and
	// logs its startup grade, which the subtests wait for: a line of the
	// running config must not pass for one of a refused config.
	good := caddyfile("local_certs\n\ttlsguard", fmt.Sprintf(`
localhost {
	hsts
	header X-Test-Run %d
	respond "ok"
}
`, time.Now().UnixNano()))
	mark := logMark()
	load(t, good, "caddyfile")
	roots := localRoot(t)
	waitCert(t, "localhost", roots)
	if !waitLog(t, mark, "site grade", map[string]any{"site": "localhost"}, 30*time.Second) {
		t.Fatal("the good config logged no startup grade for localhost")
	}
	c := client(roots)
	url := "https://localhost:" + strconv.Itoa(httpsPort) + "/"

	// withPolicy returns the good config as JSON with one explicit
	// connection policy on its HTTPS server.
	withPolicy := func(t *testing.T, policy string) string {
		t.Helper()
		raw, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(good), map[string]any{"filename": "Caddyfile"})
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]any
		if err := json.Unmarshal(raw, &cfg); err != nil {
			t.Fatal(err)
		}
		servers := cfg["apps"].(map[string]any)["http"].(map[string]any)["servers"].(map[string]any)
		var pol any
		if err := json.Unmarshal([]byte(policy), &pol); err != nil {
			t.Fatal(err)
		}
		placed := false
		for _, s := range servers {
			srv := s.(map[string]any)
			// The harness binds loopback only: "127.0.0.1:<https_port>".
			if slices.ContainsFunc(srv["listen"].([]any), func(l any) bool {
				return strings.HasSuffix(l.(string), ":"+strconv.Itoa(httpsPort))
			}) {
				srv["tls_connection_policies"] = []any{pol}
				placed = true
			}
		}
		if !placed {
			t.Fatalf("no server of the adapted config listens on the HTTPS port %d", httpsPort)
		}
		out, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	keylog := filepath.Join(t.TempDir(), "keys.log")

	for _, tc := range []struct {
		name, cfg, adapter string
		want               []string
	}{
		{"cbc_suite", caddyfile("local_certs\n\ttlsguard", `
localhost {
	tls {
		ciphers TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
	}
	respond "ok"
}
`), "caddyfile", []string{
			"tlsguard: invalid configuration: profile intermediate (mode enforce) refuses 1 setting(s) of the config",
			`policy 0: cipher_suites = TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: the suite has no AEAD`,
			"the profile requires only TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
			"(policy.cipher_suite.no_aead); fix: remove TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA from cipher_suites",
		}},
		{"insecure_secrets_log", caddyfile("local_certs\n\ttlsguard", fmt.Sprintf(`
localhost {
	tls {
		insecure_secrets_log %s
	}
	respond "ok"
}
`, keylog)), "caddyfile", []string{
			fmt.Sprintf(`insecure_secrets_log = %q: the policy writes every session's keys to a file`, keylog),
			"(policy.insecure_secrets_log); fix: remove insecure_secrets_log",
		}},
		{"explicit_tls12_under_modern", caddyfile("local_certs\n\ttlsguard modern", `
localhost {
	tls {
		protocols tls1.2
	}
	respond "ok"
}
`), "caddyfile", []string{
			"profile modern (mode enforce) refuses 1 setting(s) of the config",
			"protocol_min = tls1.2: the policy accepts tls1.2, below profile modern; the profile requires tls1.3 or higher",
			"fix: set protocol_min to tls1.3 (Caddyfile: tls { protocols tls1.3 }), or set tlsguard mode harden",
		}},
		{"curve_outside_profile", withPolicy(t, `{"curves": ["secp521r1"]}`), "json", []string{
			`curves = secp521r1: the group is not in profile intermediate; the profile requires only x25519mlkem768 x25519 secp256r1 secp384r1 (policy.curve.not_in_profile)`,
			"curves = secp521r1: the policy offers none of profile intermediate's groups",
			"(policy.curves.missing)",
		}},
		// Caddy 2.11 itself refuses unknown curve names in JSON, before
		// tlsguard sees the policy; the config is refused all the same.
		{"unknown_curve", withPolicy(t, `{"curves": ["x448"]}`), "json", []string{"unsupported curve: x448"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mark := logMark()
			msg := loadError(t, tc.cfg, tc.adapter)
			for _, want := range tc.want {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q:\n%s", want, msg)
				}
			}
			// A refused config logs nothing of tlsguard's: what it would
			// have applied or found describes a config that never ran.
			for _, e := range logsSince(t, mark, "", 0) {
				if e["logger"] == "tlsguard" {
					t.Errorf("the refused config logged %v", e)
				}
			}
			resp, body := get(t, c, url)
			if resp.StatusCode != http.StatusOK || body != "ok" {
				t.Fatalf("after the refused load: %d %q; the good config should still serve", resp.StatusCode, body)
			}
			if r := tlsguardReport(t); r.Summary.Errors != 0 {
				t.Errorf("the running report has %d errors: %+v", r.Summary.Errors, r.Findings)
			}
		})
	}
}

// TestTLSGuardHardenAndAudit serves a policy with a CBC suite: harden takes
// it out of the built config, audit leaves it and reports it. (Host names
// are not shared between tests: certificates persist in storage, and this
// one has an RSA key.)
func TestTLSGuardHardenAndAudit(t *testing.T) {
	site := rsaSite("cbc-rsa.localhost", "ciphers TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA")

	t.Run("harden", func(t *testing.T) {
		mark := logMark()
		load(t, caddyfile("local_certs\n\ttlsguard {\n\t\tmode harden\n\t}", site), "caddyfile")
		roots := localRoot(t)
		waitCert(t, "cbc-rsa.localhost", roots)
		wantHandshake(t, "cbc-rsa.localhost", withRoots(cbcRSAOnly, roots), false, 0)
		wantHandshake(t, "cbc-rsa.localhost", withRoots(gcmRSAOnly, roots), true, tls.VersionTLS12)

		r := tlsguardReport(t)
		pol := policyOf(t, r, "cbc-rsa.localhost")
		want := tlsguard.Change{Field: "cipher_suites",
			From: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", To: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}
		if !slices.Contains(pol.Changes, want) {
			t.Errorf("changes %+v lack %+v", pol.Changes, want)
		}
		if slices.Contains(pol.CipherSuites, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA") {
			t.Errorf("the hardened policy still offers the CBC suite: %v", pol.CipherSuites)
		}
		if slices.Contains(findingCodesAll(r), "policy.cipher_suite.no_aead") {
			t.Error("a no_aead finding is left after hardening")
		}
		if !waitLog(t, mark, "applied profile to connection policy", map[string]any{"field": "cipher_suites", "mode": "harden"}, 5*time.Second) {
			t.Errorf("no cipher_suites change logged: %v", logsSince(t, mark, "applied profile to connection policy", 0))
		}
		t.Run("openssl", func(t *testing.T) {
			wantOpenSSL(t, "cbc-rsa.localhost", false, "", "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA")
			wantOpenSSL(t, "cbc-rsa.localhost", true, "TLSv1.2", "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
		})
	})

	t.Run("audit", func(t *testing.T) {
		mark := logMark()
		load(t, caddyfile("local_certs\n\ttlsguard {\n\t\tmode audit\n\t}", site), "caddyfile")
		roots := localRoot(t)
		waitCert(t, "cbc-rsa.localhost", roots)
		wantHandshake(t, "cbc-rsa.localhost", withRoots(cbcRSAOnly, roots), true, tls.VersionTLS12)

		r := tlsguardReport(t)
		pol := policyOf(t, r, "cbc-rsa.localhost")
		if len(pol.Changes) != 0 || !slices.Contains(pol.CipherSuites, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA") {
			t.Errorf("audit changed the policy: %+v", pol)
		}
		if !slices.Contains(findingCodesAll(r), "policy.cipher_suite.no_aead") {
			t.Errorf("no no_aead finding in %v", findingCodesAll(r))
		}
		if !waitLog(t, mark, "tlsguard finding", map[string]any{"code": "policy.cipher_suite.no_aead", "value": "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"}, 5*time.Second) {
			t.Errorf("the finding was not logged: %v", logsSince(t, mark, "tlsguard finding", 0))
		}
		t.Run("openssl", func(t *testing.T) {
			wantOpenSSL(t, "cbc-rsa.localhost", true, "TLSv1.2", "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA")
		})
	})
}

// TestTLSGuardGradesAndCertLint serves one site per grading case, with
// certificates from the local CA or generated by the test, and checks each
// site's exact grade, score and caps, and the certificate findings.
func TestTLSGuardGradesAndCertLint(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	files := map[string][2]string{}
	for _, spec := range []leafSpec{
		{name: "rsa1024.localhost", rsaBits: 1024},
		{name: "sha1.localhost", rsaBits: 2048, sig: x509.SHA1WithRSA},
		{name: "long.localhost", lifetime: 400 * 24 * time.Hour},
		{name: "expired.localhost", notBefore: time.Now().Add(-72 * time.Hour), lifetime: 24 * time.Hour},
		{name: "selfsigned.example.com", selfSign: true},
		{name: "ed25519.localhost", ed25519: true},
	} {
		cert, key := ca.writeLeaf(t, dir, spec)
		files[spec.name] = [2]string{cert, key}
	}
	manual := func(host string) string {
		return fmt.Sprintf("%s {\n\ttls %s %s\n\thsts\n\trespond \"ok\"\n}\n", host, files[host][0], files[host][1])
	}
	sites := `
aplus.localhost {
	hsts
	respond "ok"
}
nohsts.localhost {
	respond "ok"
}
shorthsts.localhost {
	hsts 300
	respond "ok"
}
tls12.localhost {
	tls {
		protocols tls1.2 tls1.2
	}
	hsts
	respond "ok"
}
cbc.localhost {
	tls {
		protocols tls1.2 tls1.2
		ciphers TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA
	}
	hsts
	respond "ok"
}
internal.example.com {
	tls internal
	hsts
	respond "ok"
}
`
	manualHosts := []string{"rsa1024.localhost", "sha1.localhost", "long.localhost", "expired.localhost", "selfsigned.example.com", "ed25519.localhost"}
	for _, host := range manualHosts {
		sites += manual(host)
	}
	managedHosts := []string{"aplus.localhost", "nohsts.localhost", "shorthsts.localhost", "tls12.localhost", "cbc.localhost", "internal.example.com"}
	ours := map[string]bool{}
	for _, host := range slices.Concat(manualHosts, managedHosts) {
		ours[host] = true
	}
	mark := logMark()
	// audit, so that the CBC-only site may load.
	load(t, caddyfile("local_certs\n\ttlsguard {\n\t\tmode audit\n\t}", sites), "caddyfile")
	roots := localRoot(t)
	for _, host := range managedHosts {
		waitCert(t, host, roots)
	}
	r := tlsguardReport(t)

	// A certificate that is not trusted grades T with score 0 (the rating
	// guide's Certificate Inspection; testssl.sh does the same); the
	// grade and score the configuration earns otherwise are kept apart.
	trustIgnored := func(grade string, score int) *tlsguard.TrustIgnored {
		return &tlsguard.TrustIgnored{Grade: grade, Score: score}
	}
	for _, tc := range []struct {
		host         string
		grade        string
		score        int
		kx           int
		caps         []string
		warnings     int
		trustIgnored *tlsguard.TrustIgnored
	}{
		{"aplus.localhost", "A+", 96, 100, nil, 0, nil},
		{"nohsts.localhost", "A-", 96, 100, []string{"hsts.missing"}, 0, nil},
		{"shorthsts.localhost", "A-", 96, 100, []string{"hsts.short"}, 0, nil},
		{"tls12.localhost", "A-", 96, 100, []string{"protocol.no_tls13"}, 0, nil},
		{"cbc.localhost", "B", 96, 100, []string{"protocol.no_tls13", "cipher.no_aead"}, 0, nil},
		{"rsa1024.localhost", "B", 90, 80, []string{"key_exchange.weak"}, 0, nil},
		{"long.localhost", "A-", 96, 100, nil, 1, nil},
		{"ed25519.localhost", "A+", 96, 100, nil, 0, nil},
		{"selfsigned.example.com", "T", 0, 100, []string{"cert.self_signed"}, 0, trustIgnored("A+", 96)},
		{"internal.example.com", "T", 0, 100, []string{"cert.internal_ca.public_name"}, 0, trustIgnored("A+", 96)},
		{"sha1.localhost", "T", 0, 90, []string{"cert.signature.sha1"}, 0, trustIgnored("A+", 93)},
		{"expired.localhost", "T", 0, 100, []string{"cert.expired"}, 0, trustIgnored("A+", 96)},
	} {
		t.Run("grade/"+tc.host, func(t *testing.T) {
			s := siteReport(t, r, tc.host)
			if s.Grade == nil {
				t.Fatalf("no grade: %s", s.Pending)
			}
			g := s.Grade
			if (g.TrustIgnored == nil) != (tc.trustIgnored == nil) || (g.TrustIgnored != nil && *g.TrustIgnored != *tc.trustIgnored) {
				t.Errorf("trust_ignored %+v, want %+v", g.TrustIgnored, tc.trustIgnored)
			}
			var caps []string
			for _, c := range g.Caps {
				caps = append(caps, c.Code)
				if c.Reason == "" {
					t.Errorf("cap %s has no reason", c.Code)
				}
			}
			if g.Grade != tc.grade || g.Score != tc.score || g.KeyExchange.Score != tc.kx || !slices.Equal(caps, tc.caps) || len(g.Warnings) != tc.warnings {
				t.Errorf("grade %s score %d key exchange %d caps %v warnings %v; want %s %d %d %v and %d warning(s)",
					g.Grade, g.Score, g.KeyExchange.Score, caps, g.Warnings, tc.grade, tc.score, tc.kx, tc.caps, tc.warnings)
			}
			if g.Protocol.Score != 100 || g.CipherStrength.Score != 90 {
				t.Errorf("protocol %d cipher strength %d, want 100 and 90", g.Protocol.Score, g.CipherStrength.Score)
			}
		})
	}

	for host, want := range map[string][]string{
		"rsa1024.localhost":      {"cert.key.rsa_weak"},
		"sha1.localhost":         {"cert.signature.sha1"},
		"long.localhost":         {"cert.lifetime.over_profile"},
		"expired.localhost":      {"cert.expired"},
		"selfsigned.example.com": {"cert.self_signed.public_name"},
		"internal.example.com":   {"cert.internal_ca.public_name"},
		"aplus.localhost":        nil,
		"ed25519.localhost":      {"cert.key.type_not_in_profile"},
		"nohsts.localhost":       {"site.hsts.missing"},
		"shorthsts.localhost":    {"site.hsts.below_profile"},
	} {
		t.Run("findings/"+host, func(t *testing.T) {
			if got := findingCodes(r, host); !slices.Equal(got, want) {
				t.Errorf("findings %v, want %v", got, want)
			}
		})
	}

	t.Run("certificates", func(t *testing.T) {
		byName := map[string]tlsguard.CertReport{}
		for _, c := range r.Certificates {
			for _, n := range c.Names {
				byName[n] = c
			}
		}
		if c := byName["rsa1024.localhost"]; c.KeyType != "rsa" || c.KeyBits != 1024 {
			t.Errorf("rsa1024: %+v", c)
		}
		if c := byName["selfsigned.example.com"]; !c.SelfSigned {
			t.Errorf("selfsigned: %+v", c)
		}
		if c := byName["internal.example.com"]; c.IssuerKind != "internal" || c.KeyType != "ecdsa" {
			t.Errorf("internal: %+v", c)
		}
		if c := byName["long.localhost"]; c.LifetimeSeconds != 400*24*3600 {
			t.Errorf("long: lifetime %d s, want 400 days", c.LifetimeSeconds)
		}
	})

	// What openssl says of the certificate each site serves: the SHA-256
	// fingerprint of the leaf (x509 -fingerprint -sha256), its pin, and
	// the key size s_client reports ("Server public key is N bit").
	t.Run("openssl", func(t *testing.T) {
		byHost := map[string]tlsguard.CertReport{}
		for _, c := range r.Certificates {
			for _, n := range c.Names {
				byHost[n] = c
			}
		}
		insecure := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // reading what is served, not trusting it
		for _, host := range []string{"aplus.localhost", "rsa1024.localhost", "ed25519.localhost", "expired.localhost", "internal.example.com"} {
			c := byHost[host]
			cs, err := handshake(host, nil, insecure)
			if err != nil {
				t.Fatalf("%s: %v", host, err)
			}
			facts := opensslFactsOf(t, cs.PeerCertificates[0].Raw)
			if c.SHA256Fingerprint != facts.fingerprint || c.SPKIPin != facts.pin || c.Serial != facts.serial {
				t.Errorf("%s: sha256_fingerprint %s, spki_pin %s, serial %s; openssl: %s, %s, %s",
					host, c.SHA256Fingerprint, c.SPKIPin, c.Serial, facts.fingerprint, facts.pin, facts.serial)
			}
			if s := siteReport(t, r, host); s.Certificate != facts.fingerprint {
				t.Errorf("%s: sites[].certificate %s; openssl's SHA-256 fingerprint %s", host, s.Certificate, facts.fingerprint)
			}
			if bits := opensslKeyBits(t, host); c.KeyBits != bits {
				t.Errorf("%s: key_bits %d (%s); openssl s_client says %d", host, c.KeyBits, c.KeyType, bits)
			}
		}
		// Findings name a certificate as "[names] sha256:<prefix>": the
		// start of the same fingerprint.
		for _, f := range r.Findings {
			names, fp, ok := strings.Cut(f.Certificate, "] sha256:")
			if !ok {
				continue
			}
			c := byHost[strings.Fields(strings.TrimPrefix(names, "["))[0]]
			if len(fp) < 16 || !strings.HasPrefix(c.SHA256Fingerprint, fp) {
				t.Errorf("finding %s names sha256:%s; the certificate's SHA-256 fingerprint is %s", f.Code, fp, c.SHA256Fingerprint)
			}
		}
	})

	// The config loaded before this one runs until this one has started,
	// so its own startup grades may be logged after mark: only this
	// config's sites count.
	t.Run("startup_log", func(t *testing.T) {
		var got map[string]string
		eventually(t, 20*time.Second, "a site grade log line for each of the 12 sites", func() (bool, string) {
			got = map[string]string{}
			for _, e := range logsSince(t, mark, "site grade", time.Second) {
				site, _ := e["site"].(string)
				grade, _ := e["grade"].(string)
				if !ours[site] {
					continue
				}
				got[site] = grade
				if site == "nohsts.localhost" {
					caps, _ := e["caps"].([]any)
					if len(caps) != 1 || !strings.Contains(fmt.Sprint(caps[0]), "(hsts.missing)") {
						t.Errorf("logged caps %v", e["caps"])
					}
				}
			}
			return len(got) == 12, fmt.Sprint(got)
		})
		if got["aplus.localhost"] != "A+" || got["cbc.localhost"] != "B" || got["selfsigned.example.com"] != "T" || len(got) != 12 {
			t.Errorf("logged grades %v", got)
		}
	})
}

// TestTLSGuardTelemetry makes a known mix of handshakes and checks the
// counters in /metrics (parsed with expfmt) and in the report.
func TestTLSGuardTelemetry(t *testing.T) {
	load(t, caddyfile("local_certs\n\ttlsguard", rsaSite("tele.localhost", "")), "caddyfile")
	roots := localRoot(t)
	waitCert(t, "tele.localhost", roots)
	// Let the ConnState hook see waitCert's connection close.
	time.Sleep(100 * time.Millisecond)
	before := scrape(t)
	reportBefore := tlsguardReport(t).Servers[0].Telemetry

	tls13 := &tls.Config{RootCAs: roots}
	tls12 := &tls.Config{RootCAs: roots, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}}
	tls10 := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}
	for _, tc := range []struct {
		cfg *tls.Config
		n   int
		ok  bool
	}{
		{tls13, 5, true},
		{tls12, 3, true},
		{withRoots(gcmRSAOnly, roots), 1, true},
		{withRoots(cbcRSAOnly, roots), 2, false},
		{tls10, 1, false},
	} {
		for range tc.n {
			if _, err := handshake("tele.localhost", nil, tc.cfg); (err == nil) != tc.ok {
				t.Fatalf("handshake %s: %v, want ok=%v", tls.VersionName(tc.cfg.MaxVersion), err, tc.ok)
			}
		}
	}

	want := []rise{
		{"tlsguard_handshakes_total", labels{"cipher_suite": "TLS_AES_128_GCM_SHA256", "resumed": "false", "server": "srv0", "version": "tls1.3"}, 5},
		{"tlsguard_handshakes_total", labels{"cipher_suite": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "resumed": "false", "server": "srv0", "version": "tls1.2"}, 3},
		{"tlsguard_handshakes_total", labels{"cipher_suite": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "resumed": "false", "server": "srv0", "version": "tls1.2"}, 1},
		{"tlsguard_client_hellos_total", labels{"max_version": "tls1.3", "server": "srv0"}, 5},
		{"tlsguard_client_hellos_total", labels{"max_version": "tls1.2", "server": "srv0"}, 6},
		{"tlsguard_client_hellos_total", labels{"max_version": "tls1.0", "server": "srv0"}, 1},
		{"tlsguard_refused_handshakes_total", labels{"reason": "no_shared_cipher", "server": "srv0"}, 2},
		{"tlsguard_refused_handshakes_total", labels{"reason": "protocol_version", "server": "srv0"}, 1},
		{"tlsguard_refused_handshakes_total", labels{"reason": "other", "server": "srv0"}, 0},
	}
	var after metrics
	eventually(t, 5*time.Second, "the counters to rise by the handshakes made", func() (bool, string) {
		after = scrape(t)
		missed := risesMissed(before, after, want)
		return missed == "", missed
	})
	if v, _ := after.value("tlsguard_config_info", labels{"mode": "enforce", "profile": "intermediate"}); v != 1 {
		t.Error("no tlsguard_config_info for intermediate/enforce")
	}
	ratio, _ := after.value("tlsguard_tls13_client_ratio", labels{"server": "srv0"})
	hellos13, _ := after.value("tlsguard_client_hellos_total", labels{"max_version": "tls1.3", "server": "srv0"})
	hellosAll, _ := after.value("tlsguard_client_hellos_total", labels{"server": "srv0"})
	if hellosAll == 0 || ratio != hellos13/hellosAll {
		t.Errorf("tls13 ratio %v, want %v/%v", ratio, hellos13, hellosAll)
	}

	tr := tlsguardReport(t).Servers[0].Telemetry
	if tr == nil {
		t.Fatal("no telemetry in the report")
	}
	if got := tr.ClientHellos["tls1.2"] - reportBefore.ClientHellos["tls1.2"]; got != 6 {
		t.Errorf("report: tls1.2 hellos rose by %d, want 6", got)
	}
	if got := tr.CompletedHandshakes - reportBefore.CompletedHandshakes; got != 9 {
		t.Errorf("report: completed handshakes rose by %d, want 9", got)
	}
	if tr.TLS13ClientShare == nil || *tr.TLS13ClientShare != ratio {
		t.Errorf("report share %v, metrics %v", tr.TLS13ClientShare, ratio)
	}
}

// TestTLSGuardAdmin checks the admin endpoint's methods and a config with
// telemetry off.
func TestTLSGuardAdmin(t *testing.T) {
	load(t, caddyfile("local_certs\n\ttlsguard {\n\t\ttelemetry off\n\t}", `
localhost {
	hsts
	respond "ok"
}
`), "caddyfile")
	roots := localRoot(t)
	waitCert(t, "localhost", roots)

	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequest(method, fmt.Sprintf("http://localhost:%d/tlsguard/", adminPort), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s /tlsguard/: %s, Allow %q; want 405 and Allow GET, HEAD", method, resp.Status, resp.Header.Get("Allow"))
		}
	}

	r := tlsguardReport(t)
	if len(r.Servers) != 1 || r.Servers[0].Telemetry != nil {
		t.Fatalf("servers %+v; want one, without telemetry", r.Servers)
	}
	pol := policyOf(t, r, "localhost")
	if !slices.Equal(pol.Versions, []string{"tls1.2", "tls1.3"}) || !slices.Equal(pol.Curves, []string{"x25519mlkem768", "x25519", "secp256r1"}) ||
		!slices.Contains(pol.CipherSuites, "TLS_AES_128_GCM_SHA256") || !slices.Contains(pol.CipherSuites, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256") {
		t.Errorf("effective settings %+v", pol)
	}
	if g := siteReport(t, r, "localhost").Grade; g == nil || g.Grade != "A+" {
		t.Errorf("grade %+v", g)
	}
	m := scrape(t)
	for _, name := range []string{"tlsguard_handshakes_total", "tlsguard_client_hellos_total"} {
		if _, ok := m.value(name, nil); ok {
			t.Errorf("telemetry off, yet %s is exported", name)
		}
	}
}

// TestTLSGuardRequireHSTS: with require_hsts, a site that does not send
// HSTS on every response (no hsts handler, a header directive below the
// profile's 63072000, a route that answers before hsts) refuses the config
// in enforce mode, naming the site and the fix, and is an error finding
// in audit and harden; a site covered by hsts, or by a header directive
// of two years, passes.
func TestTLSGuardRequireHSTS(t *testing.T) {
	good := `
rq-hsts.localhost {
	hsts 300
	respond "ok"
}
rq-header.localhost {
	header Strict-Transport-Security "max-age=63072000; includeSubDomains"
	respond "ok"
}
`
	bad := `
rq-none.localhost {
	respond "ok"
}
rq-short.localhost {
	header Strict-Transport-Security "max-age=300"
	respond "ok"
}
rq-bypass.localhost {
	route {
		respond /health "up"
		hsts
		respond "ok"
	}
}
`
	option := func(mode string) string {
		return "local_certs\n\ttlsguard {\n\t\trequire_hsts\n\t\tmode " + mode + "\n\t}"
	}
	load(t, caddyfile(option("enforce"), good), "caddyfile")
	roots := localRoot(t)
	waitCert(t, "rq-hsts.localhost", roots)
	waitCert(t, "rq-header.localhost", roots)
	c := client(roots)
	url := "https://rq-hsts.localhost:" + strconv.Itoa(httpsPort) + "/"
	if r := tlsguardReport(t); slices.Contains(findingCodesAll(r), "site.hsts.required") {
		t.Errorf("covered sites reported: %+v", r.Findings)
	}

	t.Run("enforce_refuses", func(t *testing.T) {
		msg := loadError(t, caddyfile(option("enforce"), good+bad), "caddyfile")
		for _, want := range []string{
			"profile intermediate (mode enforce) refuses 3 setting(s) of the config",
			`site "rq-none.localhost": the HTTPS site sends no Strict-Transport-Security header (require_hsts) (site.hsts.required); fix: add the hsts directive to the site block`,
			`site "rq-short.localhost": the header directive sends Strict-Transport-Security "max-age=300", not a valid header with max-age of at least 63072000`,
			"fix: replace the header directive with the hsts directive, or raise its max-age to 63072000",
			`site "rq-bypass.localhost": the static_response handler in route `,
			"may answer requests before the site's HSTS source runs",
			"fix: put the hsts directive before that handler",
		} {
			if !strings.Contains(msg, want) {
				t.Errorf("error lacks %q:\n%s", want, msg)
			}
		}
		for _, covered := range []string{"rq-hsts.localhost", "rq-header.localhost"} {
			if strings.Contains(msg, covered) {
				t.Errorf("the covered site %s is named:\n%s", covered, msg)
			}
		}
		resp, body := get(t, c, url)
		if resp.StatusCode != http.StatusOK || body != "ok" || resp.Header.Get("Strict-Transport-Security") != "max-age=300; includeSubDomains" {
			t.Errorf("after the refused load: %d %q %q; want the good config serving", resp.StatusCode, body, resp.Header.Get("Strict-Transport-Security"))
		}
	})

	for _, mode := range []string{"audit", "harden"} {
		t.Run(mode+"_reports", func(t *testing.T) {
			mark := logMark()
			load(t, caddyfile(option(mode), good+bad), "caddyfile")
			r := tlsguardReport(t)
			var sites []string
			for _, f := range r.Findings {
				if f.Code == "site.hsts.required" {
					sites = append(sites, f.Site)
					if f.Severity != tlsguard.SeverityError || f.Fix == "" || f.Server == "" {
						t.Errorf("finding %+v", f)
					}
				}
			}
			slices.Sort(sites)
			if want := []string{"rq-bypass.localhost", "rq-none.localhost", "rq-short.localhost"}; !slices.Equal(sites, want) {
				t.Errorf("site.hsts.required for %v, want %v", sites, want)
			}
			if slices.Contains(findingCodes(r, "rq-none.localhost"), "site.hsts.missing") {
				t.Error("the warning site.hsts.missing repeats the required finding")
			}
			if !waitLog(t, mark, "tlsguard finding", map[string]any{"code": "site.hsts.required", "site": "rq-none.localhost"}, 5*time.Second) {
				t.Errorf("the finding was not logged: %v", logsSince(t, mark, "tlsguard finding", 0))
			}
		})
	}
}

// TestTLSGuardTelemetryHTTP3: QUIC handshakes go through the policies'
// tls.Config like TCP ones, so each HTTP/3 connection (quic-go's client)
// is counted once as a ClientHello and once as a TLS 1.3 handshake.
func TestTLSGuardTelemetryHTTP3(t *testing.T) {
	load(t, caddyfile("local_certs\n\ttlsguard", rsaSite("tele3.localhost", "")), "caddyfile")
	roots := localRoot(t)
	waitCert(t, "tele3.localhost", roots)
	url := "https://tele3.localhost:" + strconv.Itoa(httpsPort) + "/"
	waitHTTP3(t, client3(t, roots), url)
	time.Sleep(100 * time.Millisecond) // the TCP connection of waitCert closes
	before := scrape(t)
	const n = 3
	for range n {
		resp, body := get(t, client3(t, roots), url) // a new QUIC connection each
		if resp.ProtoMajor != 3 || body != "ok" {
			t.Fatalf("%s %q; want HTTP/3 ok", resp.Proto, body)
		}
	}
	want := []rise{
		{"tlsguard_client_hellos_total", labels{"max_version": "tls1.3", "server": "srv0"}, n},
		{"tlsguard_client_hellos_total", labels{"server": "srv0"}, n},
		{"tlsguard_handshakes_total", labels{"version": "tls1.3", "server": "srv0"}, n},
		{"tlsguard_handshakes_total", labels{"server": "srv0"}, n},
	}
	eventually(t, 5*time.Second, "the counters to rise by the HTTP/3 handshakes", func() (bool, string) {
		missed := risesMissed(before, scrape(t), want)
		return missed == "", missed
	})
}

// TestTLSGuardKeyLogByMode: a policy's insecure_secrets_log is refused in
// enforce (TestTLSGuardEnforceRefuses); harden turns it off, so a real
// handshake writes nothing to the file Caddy opened, and says so in the
// policy's changes; audit leaves it on and reports the finding. The
// file's NSS key log lines are what a capture tool would decrypt the
// session with.
func TestTLSGuardKeyLogByMode(t *testing.T) {
	for _, tc := range []struct {
		mode     string
		wantKeys bool
	}{
		{"harden", false},
		{"audit", true},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			keylog := filepath.Join(t.TempDir(), "keys.log")
			load(t, caddyfile("local_certs\n\ttlsguard {\n\t\tmode "+tc.mode+"\n\t}", fmt.Sprintf(`
keylog.localhost {
	tls {
		insecure_secrets_log %s
	}
	respond "ok"
}
`, keylog)), "caddyfile")
			roots := localRoot(t)
			waitCert(t, "keylog.localhost", roots)
			if _, err := handshake("keylog.localhost", nil, &tls.Config{RootCAs: roots}); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(keylog)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			hasKeys := strings.Contains(string(b), "SERVER_TRAFFIC_SECRET_0 ")
			if hasKeys != tc.wantKeys {
				t.Errorf("mode %s: the key log holds %d bytes (traffic secrets: %v); want secrets: %v", tc.mode, len(b), hasKeys, tc.wantKeys)
			}
			r := tlsguardReport(t)
			if tc.wantKeys {
				if codes := findingCodesAll(r); !slices.Contains(codes, "policy.insecure_secrets_log") {
					t.Errorf("mode %s: findings %v; want policy.insecure_secrets_log reported", tc.mode, codes)
				}
				return
			}
			want := tlsguard.Change{Field: "insecure_secrets_log", From: keylog, To: "(off)"}
			if ch := policyOf(t, r, "keylog.localhost").Changes; !slices.Contains(ch, want) {
				t.Errorf("mode %s: policy changes %+v; want %+v", tc.mode, ch, want)
			}
		})
	}
}
