package tlsguard

import (
	"crypto/tls"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddytls"
)

// builtPolicy returns a policy whose TLSConfig looks like the one Caddy
// builds for it: unset fields get Caddy's defaults (TLS 1.2-1.3, the six
// ECDHE AEAD suites, X25519MLKEM768 X25519 P-256), suites are prefixed
// with TLS_FALLBACK_SCSV.
func builtPolicy(t *testing.T, cp caddytls.ConnectionPolicy) *caddytls.ConnectionPolicy {
	t.Helper()
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13}
	for _, name := range cp.CipherSuites {
		id := caddytls.CipherSuiteID(name)
		if id == 0 {
			t.Fatalf("unknown suite %s", name)
		}
		cfg.CipherSuites = append(cfg.CipherSuites, id)
	}
	if len(cfg.CipherSuites) == 0 {
		cfg.CipherSuites = []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305,
		}
	}
	cfg.CipherSuites = append([]uint16{tls.TLS_FALLBACK_SCSV}, cfg.CipherSuites...)
	for _, name := range cp.Curves {
		cfg.CurvePreferences = append(cfg.CurvePreferences, caddytls.SupportedCurves[name])
	}
	if len(cfg.CurvePreferences) == 0 {
		cfg.CurvePreferences = []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256}
	}
	if cp.ProtocolMin != "" {
		cfg.MinVersion = caddytls.SupportedProtocols[cp.ProtocolMin]
	}
	if cp.ProtocolMax != "" {
		cfg.MaxVersion = caddytls.SupportedProtocols[cp.ProtocolMax]
	}
	if cp.InsecureSecretsLog != "" {
		cfg.KeyLogWriter = io.Discard
	}
	cp.TLSConfig = cfg
	return &cp
}

func codes(fs Findings) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Code)
	}
	return out
}

func TestCheckPolicy(t *testing.T) {
	custom, err := (&CustomProfile{ProtocolMin: "tls1.2", Curves: []string{"x25519", "secp256r1"},
		CipherSuites: []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"}}).resolve()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		profile Profile
		policy  caddytls.ConnectionPolicy
		want    []string
	}{
		{"caddy defaults, intermediate", intermediateProfile(), caddytls.ConnectionPolicy{},
			[]string{"policy.curves.incomplete"}},
		{"caddy defaults, modern", modernProfile(), caddytls.ConnectionPolicy{},
			[]string{"policy.protocol_min.below_profile", "policy.curves.incomplete"}},
		{"tls1.3 only, modern", modernProfile(), caddytls.ConnectionPolicy{ProtocolMin: "tls1.3",
			Curves: []string{"x25519mlkem768", "x25519", "secp256r1", "secp384r1"}}, nil},
		{"protocol_max below modern", modernProfile(), caddytls.ConnectionPolicy{ProtocolMin: "tls1.2", ProtocolMax: "tls1.2",
			Curves: []string{"x25519"}},
			[]string{"policy.protocol_min.below_profile", "policy.protocol_max.below_profile", "policy.curves.no_post_quantum", "policy.curves.incomplete"}},
		{"cbc suite", intermediateProfile(), caddytls.ConnectionPolicy{
			CipherSuites: []string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"},
			Curves:       []string{"x25519mlkem768", "x25519", "secp256r1", "secp384r1"}},
			[]string{"policy.cipher_suite.no_aead"}},
		{"cbc suite allowed by custom", custom, caddytls.ConnectionPolicy{
			CipherSuites: []string{"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"}, Curves: []string{"x25519", "secp256r1"}},
			[]string{"policy.curves.no_post_quantum"}},
		{"gcm suite outside custom", custom, caddytls.ConnectionPolicy{
			CipherSuites: []string{"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"}, Curves: []string{"x25519", "secp256r1"}},
			[]string{"policy.cipher_suite.not_in_profile", "policy.curves.no_post_quantum"}},
		{"only the post-quantum group missing", intermediateProfile(), caddytls.ConnectionPolicy{
			Curves: []string{"x25519", "secp256r1", "secp384r1"}},
			[]string{"policy.curves.no_post_quantum"}},
		{"only the post-quantum group", intermediateProfile(), caddytls.ConnectionPolicy{
			Curves: []string{"x25519mlkem768"}},
			[]string{"policy.curves.incomplete"}},
		{"cbc suite ignored on tls1.3", intermediateProfile(), caddytls.ConnectionPolicy{ProtocolMin: "tls1.3",
			CipherSuites: []string{"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"},
			Curves:       []string{"x25519mlkem768", "x25519", "secp256r1", "secp384r1"}}, nil},
		{"p521 only", intermediateProfile(), caddytls.ConnectionPolicy{Curves: []string{"secp521r1"}},
			[]string{"policy.curve.not_in_profile", "policy.curves.missing"}},
		{"secrets log", intermediateProfile(), caddytls.ConnectionPolicy{InsecureSecretsLog: "/tmp/keys.log",
			Curves: []string{"x25519mlkem768", "x25519", "secp256r1", "secp384r1"}},
			[]string{"policy.insecure_secrets_log"}},
		{"drop", modernProfile(), caddytls.ConnectionPolicy{Drop: true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := checkPolicy(tc.profile, "srv0", 2, builtPolicy(t, tc.policy))
			if !slices.Equal(codes(got), tc.want) {
				t.Fatalf("findings %v, want %v\n%v", codes(got), tc.want, got)
			}
			for _, f := range got {
				if f.Server != "srv0" || f.Policy == nil || *f.Policy != 2 || f.Field == "" || f.Value == "" || f.Message == "" || f.Fix == "" {
					t.Errorf("finding lacks a location, field, value, message or fix: %+v", f)
				}
			}
		})
	}
}

// TestPostQuantumFinding checks the words of the finding for a policy
// without X25519MLKEM768, under a profile that lists it (Mozilla's) and a
// custom one that does not.
func TestPostQuantumFinding(t *testing.T) {
	policy := caddytls.ConnectionPolicy{Curves: []string{"x25519", "secp256r1", "secp384r1"}}
	fs := checkPolicy(intermediateProfile(), "srv0", 0, builtPolicy(t, policy))
	if len(fs) != 1 || fs[0].Severity != SeverityWarning {
		t.Fatalf("findings %v", fs)
	}
	for _, want := range []string{
		`server "srv0" policy 0: curves = x25519 secp256r1 secp384r1: the policy offers no post-quantum key exchange (X25519MLKEM768, first in Mozilla's guidelines 6.0)`,
		"the profile requires x25519mlkem768 among the groups (policy.curves.no_post_quantum)",
		"fix: add x25519mlkem768 to curves",
	} {
		if !strings.Contains(fs[0].String(), want) {
			t.Errorf("%q lacks %q", fs[0], want)
		}
	}
	// Caddy's default list has the group.
	if fs := checkPolicy(intermediateProfile(), "srv0", 0, builtPolicy(t, caddytls.ConnectionPolicy{})); slices.Contains(codes(fs), "policy.curves.no_post_quantum") {
		t.Errorf("Caddy's default curves flagged: %v", fs)
	}
	custom, err := (&CustomProfile{ProtocolMin: "tls1.3", Curves: []string{"x25519"}}).resolve()
	if err != nil {
		t.Fatal(err)
	}
	fs = checkPolicy(custom, "srv0", 0, builtPolicy(t, caddytls.ConnectionPolicy{ProtocolMin: "tls1.3", Curves: []string{"x25519"}}))
	if len(fs) != 1 || fs[0].Code != "policy.curves.no_post_quantum" || fs[0].Want != "" ||
		!strings.Contains(fs[0].Fix, "to the custom profile's curves and to the policy's") {
		t.Errorf("custom profile without the group: %v", fs)
	}
}

func TestCheckPolicyUnbuilt(t *testing.T) {
	got := checkPolicy(intermediateProfile(), "srv0", 0, &caddytls.ConnectionPolicy{})
	if !slices.Equal(codes(got), []string{"policy.unverifiable"}) || got[0].Severity != SeverityError {
		t.Fatalf("findings %v", got)
	}
}

func TestFindingString(t *testing.T) {
	fs := checkPolicy(intermediateProfile(), "srv0", 1, builtPolicy(t, caddytls.ConnectionPolicy{
		CipherSuites: []string{"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"},
		Curves:       []string{"x25519mlkem768", "x25519", "secp256r1", "secp384r1"},
	}))
	if len(fs) != 1 {
		t.Fatalf("findings %v", fs)
	}
	got := fs[0].String()
	for _, want := range []string{
		`server "srv0" policy 1: cipher_suites = TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: the suite has no AEAD`,
		"the profile requires only TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
		"(policy.cipher_suite.no_aead)",
		"fix: remove TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA from cipher_suites",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}

func TestApplyProfile(t *testing.T) {
	mozilla := "x25519mlkem768 x25519 secp256r1 secp384r1"
	for _, tc := range []struct {
		name    string
		profile Profile
		policy  caddytls.ConnectionPolicy
		mode    Mode
		want    []Change
		after   []string // findings left
	}{
		{name: "enforce leaves intermediate defaults", profile: intermediateProfile(), mode: ModeEnforce,
			after: []string{"policy.curves.incomplete"}},
		{name: "harden completes intermediate curves", profile: intermediateProfile(), mode: ModeHarden,
			want: []Change{{"curves", "x25519mlkem768 x25519 secp256r1", mozilla}}},
		{name: "enforce applies modern to an empty policy", profile: modernProfile(), mode: ModeEnforce,
			want:  []Change{{"protocol_min", "tls1.2", "tls1.3"}},
			after: []string{"policy.curves.incomplete"}},
		{name: "enforce keeps explicit tls1.2 under modern", profile: modernProfile(), mode: ModeEnforce,
			policy: caddytls.ConnectionPolicy{ProtocolMin: "tls1.2", Curves: []string{"x25519"}},
			after:  []string{"policy.protocol_min.below_profile", "policy.curves.no_post_quantum", "policy.curves.incomplete"}},
		{name: "harden overrides explicit tls1.2 under modern", profile: modernProfile(), mode: ModeHarden,
			policy: caddytls.ConnectionPolicy{ProtocolMin: "tls1.2", ProtocolMax: "tls1.2", Curves: []string{"x25519"}},
			want:   []Change{{"protocol_min", "tls1.2", "tls1.3"}, {"protocol_max", "tls1.2", "tls1.3"}},
			after:  []string{"policy.curves.no_post_quantum", "policy.curves.incomplete"}},
		{name: "harden drops cbc, keeps the user's stricter gcm choice", profile: intermediateProfile(), mode: ModeHarden,
			policy: caddytls.ConnectionPolicy{CipherSuites: []string{"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"},
				Curves: []string{"x25519", "secp521r1"}},
			want: []Change{
				{"cipher_suites", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
				{"curves", "x25519 secp521r1", "x25519"},
			},
			after: []string{"policy.curves.no_post_quantum", "policy.curves.incomplete"}},
		{name: "harden replaces an all-cbc list", profile: intermediateProfile(), mode: ModeHarden,
			policy: caddytls.ConnectionPolicy{CipherSuites: []string{"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"}, Curves: []string{"secp521r1"}},
			want: []Change{
				{"cipher_suites", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", strings.Join(suiteNames(intermediateProfile().Suites), " ")},
				{"curves", "secp521r1", mozilla},
			}},
		{name: "enforce keeps explicit cbc", profile: intermediateProfile(), mode: ModeEnforce,
			policy: caddytls.ConnectionPolicy{CipherSuites: []string{"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"}},
			after:  []string{"policy.cipher_suite.no_aead", "policy.curves.incomplete"}},
		{name: "harden turns the key log off", profile: intermediateProfile(), mode: ModeHarden,
			policy: caddytls.ConnectionPolicy{InsecureSecretsLog: "/tmp/k", Curves: strings.Fields(mozilla)},
			want:   []Change{{"insecure_secrets_log", "/tmp/k", "(off)"}}},
		{name: "enforce keeps the key log", profile: intermediateProfile(), mode: ModeEnforce,
			policy: caddytls.ConnectionPolicy{InsecureSecretsLog: "/tmp/k", Curves: strings.Fields(mozilla)},
			after:  []string{"policy.insecure_secrets_log"}},
		{name: "audit leaves modern defaults", profile: modernProfile(), mode: ModeAudit,
			after: []string{"policy.protocol_min.below_profile", "policy.curves.incomplete"}},
		{name: "audit keeps cbc and the key log", profile: intermediateProfile(), mode: ModeAudit,
			policy: caddytls.ConnectionPolicy{CipherSuites: []string{"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"}, InsecureSecretsLog: "/tmp/k"},
			after:  []string{"policy.cipher_suite.no_aead", "policy.curves.incomplete", "policy.insecure_secrets_log"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp := builtPolicy(t, tc.policy)
			got := applyProfile(tc.profile, cp, tc.mode)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("changes\n%v\nwant\n%v", got, tc.want)
			}
			if scsv, _ := splitSCSV(cp.TLSConfig.CipherSuites); !scsv {
				t.Error("TLS_FALLBACK_SCSV was dropped")
			}
			if after := codes(checkPolicy(tc.profile, "srv0", 0, cp)); !slices.Equal(after, tc.after) {
				t.Errorf("findings after: %v, want %v", after, tc.after)
			}
			if again := applyProfile(tc.profile, cp, tc.mode); len(again) != 0 {
				t.Errorf("second application changed %v", again)
			}
		})
	}
}

// TestApplyProfileDoesNotShareCaddysDefaults checks that replacing the
// curves never writes into the slice the config held, which Caddy shares
// between every policy.
func TestApplyProfileDoesNotShareCaddysDefaults(t *testing.T) {
	shared := []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256}
	cp := builtPolicy(t, caddytls.ConnectionPolicy{})
	cp.TLSConfig.CurvePreferences = shared
	applyProfile(intermediateProfile(), cp, ModeHarden)
	if !slices.Equal(shared, []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256}) {
		t.Fatalf("the shared default list changed: %v", shared)
	}
}

func TestPolicyReport(t *testing.T) {
	cp := builtPolicy(t, caddytls.ConnectionPolicy{CipherSuites: []string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}})
	s, ok := settingsOf(cp)
	if !ok {
		t.Fatal("no settings")
	}
	r := s.report(3)
	if r.Index != 3 || !slices.Equal(r.Versions, []string{"tls1.2", "tls1.3"}) {
		t.Errorf("report %+v", r)
	}
	want := []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}
	if !slices.Equal(r.CipherSuites, want) {
		t.Errorf("suites %v, want %v (no TLS_FALLBACK_SCSV)", r.CipherSuites, want)
	}
	if !slices.Equal(r.Curves, []string{"x25519mlkem768", "x25519", "secp256r1"}) {
		t.Errorf("curves %v", r.Curves)
	}
}
