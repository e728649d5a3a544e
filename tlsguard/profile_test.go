package tlsguard

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// mozillaGuidelines is the part of Mozilla's guidelines JSON the profiles
// are built from.
type mozillaGuidelines struct {
	Version        float64 `json:"version"`
	Configurations map[string]struct {
		CertificateCurves     []string `json:"certificate_curves"`
		CertificateSignatures []string `json:"certificate_signatures"`
		CertificateTypes      []string `json:"certificate_types"`
		Ciphers               struct {
			IANA []string `json:"iana"`
		} `json:"ciphers"`
		Ciphersuites   []string `json:"ciphersuites"`
		HSTSMinAge     int64    `json:"hsts_min_age"`
		MaxCertDays    int      `json:"maximum_certificate_lifespan"`
		RSAKeySize     *int     `json:"rsa_key_size"`
		TLSCurves      []string `json:"tls_curves"`
		TLSVersions    []string `json:"tls_versions"`
		ServerPrefOrde bool     `json:"server_preferred_order"`
	} `json:"configurations"`
}

// mozillaNames maps the names in Mozilla's JSON (OpenSSL's) to Go's.
var (
	mozillaVersions = map[string]uint16{"TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13}
	mozillaGroups   = map[string]tls.CurveID{
		"X25519MLKEM768": tls.X25519MLKEM768, "X25519": tls.X25519,
		"prime256v1": tls.CurveP256, "secp384r1": tls.CurveP384,
	}
	mozillaCertCurves = map[string]string{"prime256v1": "P-256", "secp384r1": "P-384"}
	mozillaSignatures = map[string]x509.SignatureAlgorithm{
		"sha256WithRSAEncryption": x509.SHA256WithRSA,
		"ecdsa-with-SHA256":       x509.ECDSAWithSHA256,
		"ecdsa-with-SHA384":       x509.ECDSAWithSHA384,
		"ecdsa-with-SHA512":       x509.ECDSAWithSHA512,
	}
)

func suiteByName(t *testing.T, name string) uint16 {
	t.Helper()
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if cs.Name == name {
			return cs.ID
		}
	}
	t.Fatalf("Go has no cipher suite named %q", name)
	return 0
}

func mapAll[K comparable, V any](t *testing.T, m map[K]V, keys []K) []V {
	t.Helper()
	out := make([]V, len(keys))
	for i, k := range keys {
		v, ok := m[k]
		if !ok {
			t.Fatalf("no Go equivalent for Mozilla's %v", k)
		}
		out[i] = v
	}
	return out
}

// TestProfilesMatchMozilla compares the built-in profiles with a copy of
// Mozilla's guidelines 6.0 (testdata/, copied from the shared reference).
func TestProfilesMatchMozilla(t *testing.T) {
	raw, err := os.ReadFile("testdata/mozilla-guidelines-6.0.json")
	if err != nil {
		t.Fatal(err)
	}
	var g mozillaGuidelines
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	if g.Version != 6.0 {
		t.Fatalf("guidelines version %v; the profiles follow 6.0", g.Version)
	}
	for name, profile := range map[string]Profile{"modern": modernProfile(), "intermediate": intermediateProfile()} {
		t.Run(name, func(t *testing.T) {
			c, ok := g.Configurations[name]
			if !ok {
				t.Fatalf("no configuration %q in the guidelines", name)
			}
			versions := mapAll(t, mozillaVersions, c.TLSVersions)
			if got := versionsBetween(profile.MinVersion, tls.VersionTLS13); !slices.Equal(got, versions) {
				t.Errorf("versions %v, Mozilla %v", got, versions)
			}
			var suites []uint16
			for _, n := range c.Ciphers.IANA {
				suites = append(suites, suiteByName(t, n))
			}
			if !slices.Equal(profile.Suites, suites) {
				t.Errorf("TLS 1.2 suites %v, Mozilla %v", suiteNames(profile.Suites), c.Ciphers.IANA)
			}
			var tls13 []uint16
			for _, n := range c.Ciphersuites {
				tls13 = append(tls13, suiteByName(t, n))
			}
			if !slices.Equal(profile.TLS13Suites, tls13) {
				t.Errorf("TLS 1.3 suites %v, Mozilla %v", suiteNames(profile.TLS13Suites), c.Ciphersuites)
			}
			if groups := mapAll(t, mozillaGroups, c.TLSCurves); !slices.Equal(profile.Curves, groups) {
				t.Errorf("curves %v, Mozilla %v", curveNames(profile.Curves), c.TLSCurves)
			}
			if want := time.Duration(c.MaxCertDays) * day; profile.MaxCertLifetime != want {
				t.Errorf("max certificate lifetime %v, Mozilla %v", profile.MaxCertLifetime, want)
			}
			if profile.HSTSMinAge != c.HSTSMinAge {
				t.Errorf("HSTS min age %d, Mozilla %d", profile.HSTSMinAge, c.HSTSMinAge)
			}
			if !slices.Equal(profile.CertKeyTypes, c.CertificateTypes) {
				t.Errorf("certificate types %v, Mozilla %v", profile.CertKeyTypes, c.CertificateTypes)
			}
			if curves := mapAll(t, mozillaCertCurves, c.CertificateCurves); !slices.Equal(profile.CertCurves, curves) {
				t.Errorf("certificate curves %v, Mozilla %v", profile.CertCurves, c.CertificateCurves)
			}
			if sigs := mapAll(t, mozillaSignatures, c.CertificateSignatures); !slices.Equal(profile.CertSignatures, sigs) {
				t.Errorf("certificate signatures %v, Mozilla %v", profile.CertSignatures, c.CertificateSignatures)
			}
			if c.RSAKeySize != nil && profile.RSAMinBits != *c.RSAKeySize {
				t.Errorf("RSA key size %d, Mozilla %d", profile.RSAMinBits, *c.RSAKeySize)
			}
		})
	}
}

// TestGoTLS13SuitesAreMozillas checks that the TLS 1.3 suites Go offers,
// which a server cannot configure, are the ones both profiles name.
func TestGoTLS13SuitesAreMozillas(t *testing.T) {
	var goSuites []uint16
	for _, cs := range tls.CipherSuites() {
		if slices.Contains(cs.SupportedVersions, tls.VersionTLS13) {
			goSuites = append(goSuites, cs.ID)
		}
	}
	if !slices.Equal(goSuites, tls13Suites()) {
		t.Fatalf("Go's TLS 1.3 suites %v differ from the profiles' %v", suiteNames(goSuites), suiteNames(tls13Suites()))
	}
}

func TestResolveProfile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		profile string
		custom  *CustomProfile
		wantErr string
		check   func(t *testing.T, p Profile)
	}{
		{name: "modern", profile: "modern", check: func(t *testing.T, p Profile) {
			if p.MinVersion != tls.VersionTLS13 || len(p.Suites) != 0 {
				t.Errorf("modern: min %s, suites %v", versionName(p.MinVersion), p.Suites)
			}
		}},
		{name: "unknown", profile: "old", wantErr: `profile = "old": is not a profile; fix: use modern, intermediate or custom`},
		{name: "custom block with builtin", profile: "modern", custom: &CustomProfile{ProtocolMin: "tls1.3"},
			wantErr: `profile = "modern": takes no custom settings (protocol_min, cipher_suites, curves, max_certificate_lifetime), and they are set; fix: set profile custom`},
		{name: "custom without block", profile: "custom", wantErr: `profile = "custom": needs its settings: protocol_min`},
		{name: "custom no min", profile: "custom", custom: &CustomProfile{Curves: []string{"x25519"}},
			wantErr: `custom.protocol_min = "": is required; fix: set tls1.2 or tls1.3`},
		{name: "custom bad min", profile: "custom", custom: &CustomProfile{ProtocolMin: "tls1.0", Curves: []string{"x25519"}},
			wantErr: `custom.protocol_min = "tls1.0": is not a minimum TLS version a profile may set; fix: use tls1.2 or tls1.3`},
		{name: "custom tls12 without suites", profile: "custom", custom: &CustomProfile{ProtocolMin: "tls1.2", Curves: []string{"x25519"}},
			wantErr: "custom.cipher_suites = []: is required with protocol_min tls1.2; fix: list the TLS 1.2 suites"},
		{name: "custom unknown suite", profile: "custom",
			custom:  &CustomProfile{ProtocolMin: "tls1.2", CipherSuites: []string{"TLS_RSA_WITH_RC4_128_SHA"}, Curves: []string{"x25519"}},
			wantErr: `custom.cipher_suites[0] = "TLS_RSA_WITH_RC4_128_SHA": is not a cipher suite Caddy accepts; fix: `},
		{name: "custom tls13 suite", profile: "custom",
			custom:  &CustomProfile{ProtocolMin: "tls1.2", CipherSuites: []string{"TLS_AES_128_GCM_SHA256"}, Curves: []string{"x25519"}},
			wantErr: "is a TLS 1.3 suite"},
		{name: "custom no curves", profile: "custom", custom: &CustomProfile{ProtocolMin: "tls1.3"},
			wantErr: "custom.curves = []: is required; fix: list the key exchange groups"},
		{name: "custom unknown curve", profile: "custom", custom: &CustomProfile{ProtocolMin: "tls1.3", Curves: []string{"x448"}},
			wantErr: `custom.curves[0] = "x448": is not a curve Caddy supports; fix: `},
		{name: "custom negative lifetime", profile: "custom",
			custom:  &CustomProfile{ProtocolMin: "tls1.3", Curves: []string{"x25519"}, MaxCertificateLifetime: caddy.Duration(-time.Hour)},
			wantErr: `custom.max_certificate_lifetime = "-1h0m0s": is negative; fix: use a duration such as 90d`},
		{name: "custom ok", profile: "custom",
			custom: &CustomProfile{ProtocolMin: "tls1.2", CipherSuites: []string{"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"},
				Curves: []string{"x25519", "SECP256R1"}, MaxCertificateLifetime: caddy.Duration(90 * day)},
			check: func(t *testing.T, p Profile) {
				if p.Name != ProfileCustom || p.MinVersion != tls.VersionTLS12 {
					t.Errorf("name %s min %s", p.Name, versionName(p.MinVersion))
				}
				if !slices.Equal(p.Suites, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}) {
					t.Errorf("suites %v, want the one CBC suite once", suiteNames(p.Suites))
				}
				if !slices.Equal(p.Curves, []tls.CurveID{tls.X25519, tls.CurveP256}) {
					t.Errorf("curves %v", curveNames(p.Curves))
				}
				if p.MaxCertLifetime != 90*day {
					t.Errorf("max lifetime %v", p.MaxCertLifetime)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := resolveProfile(tc.profile, tc.custom)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v; want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, p)
		})
	}
}

// TestCheckListsReportEveryBadName: every bad cipher suite or curve of a
// list is named, by its index, in one error, not only the first; curve
// names are Caddy's, in any case.
func TestCheckListsReportEveryBadName(t *testing.T) {
	err := CheckCipherSuites([]string{"TLS_FOO", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", "TLS_BAR"})
	fix := "; fix: list TLS 1.2 suites by their Go names, such as TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
	want := `custom.cipher_suites[0] = "TLS_FOO": is not a cipher suite Caddy accepts` + fix + "\n" +
		`custom.cipher_suites[2] = "TLS_AES_128_GCM_SHA256": is a TLS 1.3 suite, which Go does not let a server configure` + fix + "\n" +
		`custom.cipher_suites[3] = "TLS_BAR": is not a cipher suite Caddy accepts` + fix
	if err == nil || err.Error() != want {
		t.Errorf("CheckCipherSuites: %v\nwant %s", err, want)
	}
	if err := CheckCipherSuites(suiteNames(intermediateProfile().Suites)); err != nil {
		t.Errorf("the intermediate suites: %v", err)
	}
	err = CheckCurves([]string{"X25519", "x448", "SecP256r1", "foo"})
	fix = "; fix: use x25519mlkem768, x25519, secp256r1, secp384r1, secp521r1"
	want = `custom.curves[1] = "x448": is not a curve Caddy supports` + fix + "\n" +
		`custom.curves[3] = "foo": is not a curve Caddy supports` + fix
	if err == nil || err.Error() != want {
		t.Errorf("CheckCurves: %v\nwant %s", err, want)
	}
	if err := CheckCurves([]string{"X25519MLKEM768", "x25519"}); err != nil {
		t.Errorf("any case: %v", err)
	}
}

func TestNames(t *testing.T) {
	if got := versionName(tls.VersionTLS11); got != "tls1.1" {
		t.Errorf("versionName(1.1) = %q", got)
	}
	if got := versionName(0x7f00); got != "0x7f00" {
		t.Errorf("versionName(0x7f00) = %q", got)
	}
	if got := curveNames([]tls.CurveID{tls.X25519MLKEM768, tls.CurveP256, 0}); !slices.Equal(got, []string{"x25519mlkem768", "secp256r1", "0 (unknown)"}) {
		t.Errorf("curveNames = %v", got)
	}
	if got := versionsBetween(tls.VersionTLS11, tls.VersionTLS12); !slices.Equal(got, []uint16{tls.VersionTLS11, tls.VersionTLS12}) {
		t.Errorf("versionsBetween = %v", got)
	}
}
