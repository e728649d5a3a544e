package integration

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/hardtls/caddy-hardtls/tlsguard"
)

// Clients of the tests: each makes one full handshake.
var (
	cbcRSAOnly = &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}}
	gcmRSAOnly = &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}
)

func withRoots(cfg *tls.Config, roots *x509.CertPool) *tls.Config {
	c := cfg.Clone()
	c.RootCAs = roots
	return c
}

// wantHandshake checks that a client completes (or fails) a handshake.
func wantHandshake(t *testing.T, host string, cfg *tls.Config, ok bool, version uint16) {
	t.Helper()
	cs, err := dialTLS(host, cfg)
	switch {
	case ok && err != nil:
		t.Errorf("handshake with %s failed: %v", host, err)
	case ok && cs.Version != version:
		t.Errorf("negotiated %s, want %s", tls.VersionName(cs.Version), tls.VersionName(version))
	case !ok && err == nil:
		t.Errorf("handshake with %s succeeded with %s %s; want it refused",
			host, tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite))
	}
}

// wantOpenSSL checks openssl s_client against the running server.
func wantOpenSSL(t *testing.T, host string, ok bool, protocol string, args ...string) {
	t.Helper()
	got, proto := openssl(t, host, args...)
	if got != ok || (ok && proto != protocol) {
		t.Errorf("openssl s_client %s: connected %v (%s), want %v (%s)", strings.Join(args, " "), got, proto, ok, protocol)
	}
}

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

// rsaSite is a site with an RSA certificate from the local CA, so that
// ECDHE_RSA suites are usable at all; extra goes into its tls block.
func rsaSite(host, extra string) string {
	return fmt.Sprintf(`
%s {
	tls {
		key_type rsa2048
		%s
	}
	hsts
	respond "ok"
}
`, host, extra)
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
	good := caddyfile("local_certs\n\ttlsguard", `
localhost {
	hsts
	respond "ok"
}
`)
	load(t, good, "caddyfile")
	roots := localRoot(t)
	waitCert(t, "localhost", roots)
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
		for _, s := range servers {
			srv := s.(map[string]any)
			if slices.Contains(srv["listen"].([]any), any(":"+strconv.Itoa(httpsPort))) {
				srv["tls_connection_policies"] = []any{pol}
			}
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
			"tlsguard: invalid configuration: profile intermediate (mode enforce) refuses 1 connection policy setting(s)",
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
			"profile modern (mode enforce) refuses 1 connection policy setting(s)",
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
			msg := loadError(t, tc.cfg, tc.adapter)
			for _, want := range tc.want {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q:\n%s", want, msg)
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
// it out of the built config, audit leaves it and reports it.
func TestTLSGuardHardenAndAudit(t *testing.T) {
	site := rsaSite("cbc.localhost", "ciphers TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA")

	t.Run("harden", func(t *testing.T) {
		mark := logMark()
		load(t, caddyfile("local_certs\n\ttlsguard {\n\t\tmode harden\n\t}", site), "caddyfile")
		roots := localRoot(t)
		waitCert(t, "cbc.localhost", roots)
		wantHandshake(t, "cbc.localhost", withRoots(cbcRSAOnly, roots), false, 0)
		wantHandshake(t, "cbc.localhost", withRoots(gcmRSAOnly, roots), true, tls.VersionTLS12)

		r := tlsguardReport(t)
		pol := policyOf(t, r, "cbc.localhost")
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
		logs := logsSince(t, mark, "applied profile to connection policy", 5*time.Second)
		found := false
		for _, e := range logs {
			found = found || (e["field"] == "cipher_suites" && e["mode"] == "harden")
		}
		if !found {
			t.Errorf("no cipher_suites change logged: %v", logs)
		}
		t.Run("openssl", func(t *testing.T) {
			wantOpenSSL(t, "cbc.localhost", false, "", "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA")
			wantOpenSSL(t, "cbc.localhost", true, "TLSv1.2", "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
		})
	})

	t.Run("audit", func(t *testing.T) {
		mark := logMark()
		load(t, caddyfile("local_certs\n\ttlsguard {\n\t\tmode audit\n\t}", site), "caddyfile")
		roots := localRoot(t)
		waitCert(t, "cbc.localhost", roots)
		wantHandshake(t, "cbc.localhost", withRoots(cbcRSAOnly, roots), true, tls.VersionTLS12)

		r := tlsguardReport(t)
		pol := policyOf(t, r, "cbc.localhost")
		if len(pol.Changes) != 0 || !slices.Contains(pol.CipherSuites, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA") {
			t.Errorf("audit changed the policy: %+v", pol)
		}
		if !slices.Contains(findingCodesAll(r), "policy.cipher_suite.no_aead") {
			t.Errorf("no no_aead finding in %v", findingCodesAll(r))
		}
		logs := logsSince(t, mark, "tlsguard finding", 5*time.Second)
		found := false
		for _, e := range logs {
			found = found || (e["code"] == "policy.cipher_suite.no_aead" && e["value"] == "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA")
		}
		if !found {
			t.Errorf("the finding was not logged: %v", logs)
		}
		t.Run("openssl", func(t *testing.T) {
			wantOpenSSL(t, "cbc.localhost", true, "TLSv1.2", "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA")
		})
	})
}

func findingCodesAll(r tlsguard.Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.Code)
	}
	return out
}
