package tlsguard

import (
	"crypto/tls"
	"slices"
	"testing"

	"github.com/hardtls/caddy-hardtls/hstspolicy"
)

func hsts(t *testing.T, value string) (*hstspolicy.Header, hstspolicy.Issues) {
	t.Helper()
	h, issues := hstspolicy.ParseHeader(value)
	return &h, issues
}

func capCodes(caps []Cap) []string {
	var out []string
	for _, c := range caps {
		out = append(out, c.Code)
	}
	return out
}

func TestRate(t *testing.T) {
	both := []uint16{tls.VersionTLS12, tls.VersionTLS13}
	tls12 := []uint16{tls.VersionTLS12}
	caddySuites := append(tls13Suites(), intermediateProfile().Suites...)
	gcm12 := intermediateProfile().Suites
	cbc12 := []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA}
	curves := []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256}
	twoYears, _ := hsts(t, "max-age=63072000; includeSubDomains")

	for _, tc := range []struct {
		name                string
		in                  GradeInput
		grade               string
		score, proto, kx, c int
		caps                []string
		trustIgnored        *TrustIgnored // with grade T
	}{
		{name: "caddy defaults, ecdsa, hsts 2y",
			in:    GradeInput{Versions: both, Suites: caddySuites, Curves: curves, KeyType: "ecdsa", KeyBits: 256, HSTS: twoYears},
			grade: "A+", score: 96, proto: 100, kx: 100, c: 90},
		{name: "caddy defaults, rsa 2048, hsts 2y",
			in:    GradeInput{Versions: both, Suites: caddySuites, Curves: curves, KeyType: "rsa", KeyBits: 2048, HSTS: twoYears},
			grade: "A+", score: 93, proto: 100, kx: 90, c: 90},
		{name: "rsa 4096",
			in:    GradeInput{Versions: both, Suites: caddySuites, Curves: curves, KeyType: "rsa", KeyBits: 4096, HSTS: twoYears},
			grade: "A+", score: 96, proto: 100, kx: 100, c: 90},
		{name: "no hsts",
			in:    GradeInput{Versions: both, Suites: caddySuites, Curves: curves, KeyType: "ecdsa", KeyBits: 256},
			grade: "A-", score: 96, proto: 100, kx: 100, c: 90, caps: []string{"hsts.missing"}},
		{name: "hsts 300s", in: func() GradeInput {
			h, is := hsts(t, "max-age=300")
			return GradeInput{Versions: both, Suites: caddySuites, Curves: curves, KeyType: "ecdsa", KeyBits: 256, HSTS: h, HSTSIssues: is}
		}(), grade: "A-", score: 96, proto: 100, kx: 100, c: 90, caps: []string{"hsts.short"}},
		{name: "hsts exactly 180 days", in: func() GradeInput {
			h, is := hsts(t, "max-age=15552000")
			return GradeInput{Versions: both, Suites: caddySuites, Curves: curves, KeyType: "ecdsa", KeyBits: 256, HSTS: h, HSTSIssues: is}
		}(), grade: "A+", score: 96, proto: 100, kx: 100, c: 90},
		{name: "hsts disabled", in: func() GradeInput {
			h, is := hsts(t, "max-age=0")
			return GradeInput{Versions: both, Suites: caddySuites, Curves: curves, KeyType: "ecdsa", KeyBits: 256, HSTS: h, HSTSIssues: is}
		}(), grade: "A-", score: 96, proto: 100, kx: 100, c: 90, caps: []string{"hsts.disabled"}},
		{name: "hsts invalid", in: func() GradeInput {
			h, is := hsts(t, "max-age=1y")
			return GradeInput{Versions: both, Suites: caddySuites, Curves: curves, KeyType: "ecdsa", KeyBits: 256, HSTS: h, HSTSIssues: is}
		}(), grade: "A-", score: 96, proto: 100, kx: 100, c: 90, caps: []string{"hsts.invalid"}},
		{name: "hsts repeated directive", in: func() GradeInput {
			// RFC 6797 section 6.1: browsers ignore a header that repeats a
			// directive; hstspreload only warns.
			h, is := hsts(t, "max-age=63072000; includeSubDomains; max-age=63072000")
			return GradeInput{Versions: both, Suites: caddySuites, Curves: curves, KeyType: "ecdsa", KeyBits: 256, HSTS: h, HSTSIssues: is}
		}(), grade: "A-", score: 96, proto: 100, kx: 100, c: 90, caps: []string{"hsts.invalid"}},
		{name: "tls 1.2 only",
			in:    GradeInput{Versions: tls12, Suites: gcm12, Curves: curves, KeyType: "ecdsa", KeyBits: 256, HSTS: twoYears},
			grade: "A-", score: 96, proto: 100, kx: 100, c: 90, caps: []string{"protocol.no_tls13"}},
		{name: "tls 1.2 only, cbc only",
			in:    GradeInput{Versions: tls12, Suites: cbc12, Curves: curves, KeyType: "ecdsa", KeyBits: 256, HSTS: twoYears},
			grade: "B", score: 96, proto: 100, kx: 100, c: 90, caps: []string{"protocol.no_tls13", "cipher.no_aead"}},
		{name: "tls 1.2 only, static rsa only",
			in:    GradeInput{Versions: tls12, Suites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}, KeyType: "rsa", KeyBits: 2048, HSTS: twoYears},
			grade: "B", score: 89, proto: 100, kx: 90, c: 80, caps: []string{"protocol.no_tls13", "cipher.no_forward_secrecy"}},
		{name: "tls 1.0 and 1.1 too",
			in: GradeInput{Versions: []uint16{tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13},
				Suites: append(slices.Clone(caddySuites), cbc12...), Curves: curves, KeyType: "ecdsa", KeyBits: 256, HSTS: twoYears},
			grade: "B", score: 94, proto: 95, kx: 100, c: 90, caps: []string{"protocol.tls10_tls11"}},
		{name: "rsa 1536 is weak",
			in:    GradeInput{Versions: both, Suites: caddySuites, Curves: curves, KeyType: "rsa", KeyBits: 1536, HSTS: twoYears},
			grade: "B", score: 90, proto: 100, kx: 80, c: 90, caps: []string{"key_exchange.weak"}},
		{name: "rsa 1024 is weak",
			in:    GradeInput{Versions: both, Suites: caddySuites, Curves: curves, KeyType: "rsa", KeyBits: 1024, HSTS: twoYears},
			grade: "B", score: 90, proto: 100, kx: 80, c: 90, caps: []string{"key_exchange.weak"}},
		{name: "rsa 768 is insecure",
			in:    GradeInput{Versions: both, Suites: caddySuites, Curves: curves, KeyType: "rsa", KeyBits: 768, HSTS: twoYears},
			grade: "F", score: 78, proto: 100, kx: 40, c: 90, caps: []string{"key_exchange.insecure"}},
		{name: "self-signed",
			in: GradeInput{Versions: both, Suites: caddySuites, Curves: curves, KeyType: "ecdsa", KeyBits: 256, HSTS: twoYears,
				CertCaps: []Cap{{GradeT, "cert.self_signed", "self-signed"}}},
			grade: "T", score: 0, proto: 100, kx: 100, c: 90, caps: []string{"cert.self_signed"},
			trustIgnored: &TrustIgnored{Grade: "A+", Score: 96}},
		{name: "trust beats an F",
			in: GradeInput{Versions: both, Suites: caddySuites, Curves: curves, KeyType: "rsa", KeyBits: 768,
				CertCaps: []Cap{{GradeT, "cert.expired", "expired"}}},
			grade: "T", score: 0, proto: 100, kx: 40, c: 90, caps: []string{"key_exchange.insecure", "hsts.missing", "cert.expired"},
			trustIgnored: &TrustIgnored{Grade: "F", Score: 78}},
		{name: "md5 signature",
			in: GradeInput{Versions: both, Suites: caddySuites, Curves: curves, KeyType: "rsa", KeyBits: 2048, HSTS: twoYears,
				CertCaps: []Cap{{GradeF, "cert.signature.md5", "md5"}}},
			grade: "F", score: 93, proto: 100, kx: 90, c: 90, caps: []string{"cert.signature.md5"}},
		{name: "a warning turns A+ into A-",
			in: GradeInput{Versions: both, Suites: caddySuites, Curves: curves, KeyType: "ecdsa", KeyBits: 256, HSTS: twoYears,
				Warnings: []string{"certificate lifetime of 400 days exceeds 366 days"}},
			grade: "A-", score: 96, proto: 100, kx: 100, c: 90},
		{name: "aes-256 only",
			in: GradeInput{Versions: tls12, Suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}, Curves: []tls.CurveID{tls.CurveP384},
				KeyType: "ecdsa", KeyBits: 384, HSTS: twoYears},
			grade: "A-", score: 100, proto: 100, kx: 100, c: 100, caps: []string{"protocol.no_tls13"}},
		{name: "nothing offered",
			in:    GradeInput{KeyType: "ecdsa", KeyBits: 256, HSTS: twoYears},
			grade: "F", score: 0, proto: 0, kx: 100, c: 0, caps: []string{"protocol.no_tls13"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := Rate(tc.in)
			if g.Grade != tc.grade || g.Score != tc.score {
				t.Errorf("grade %s score %d, want %s %d", g.Grade, g.Score, tc.grade, tc.score)
			}
			if g.Protocol.Score != tc.proto || g.KeyExchange.Score != tc.kx || g.CipherStrength.Score != tc.c {
				t.Errorf("sub-scores %d/%d/%d, want %d/%d/%d", g.Protocol.Score, g.KeyExchange.Score, g.CipherStrength.Score, tc.proto, tc.kx, tc.c)
			}
			if g.Protocol.Weighted != tc.proto*30/100 || g.KeyExchange.Weighted != tc.kx*30/100 || g.CipherStrength.Weighted != tc.c*40/100 {
				t.Errorf("weighted %+v %+v %+v", g.Protocol, g.KeyExchange, g.CipherStrength)
			}
			if (g.TrustIgnored == nil) != (tc.trustIgnored == nil) || (g.TrustIgnored != nil && *g.TrustIgnored != *tc.trustIgnored) {
				t.Errorf("trust_ignored %+v, want %+v", g.TrustIgnored, tc.trustIgnored)
			}
			if got := capCodes(g.Caps); !slices.Equal(got, tc.caps) {
				t.Errorf("caps %v, want %v", got, tc.caps)
			}
			for _, c := range g.Caps {
				if c.Reason == "" || c.Grade == "" {
					t.Errorf("cap without grade or reason: %+v", c)
				}
			}
		})
	}
}

func TestFinalGrade(t *testing.T) {
	for _, tc := range []struct {
		pre    string
		caps   []string
		warned bool
		want   string
	}{
		{"A", nil, false, "A+"},
		{"A", nil, true, "A-"},
		{"A", []string{"A-"}, false, "A-"},
		{"A", []string{"A-", "B"}, false, "B"},
		{"C", []string{"B"}, false, "C"},
		{"B", []string{"B"}, false, "B"},
		{"B", nil, true, "B"},
		{"A", []string{"F", "T"}, false, "T"},
	} {
		var caps []Cap
		for _, g := range tc.caps {
			caps = append(caps, Cap{Grade: g})
		}
		if got := finalGrade(tc.pre, caps, tc.warned); got != tc.want {
			t.Errorf("finalGrade(%s, %v, %v) = %s, want %s", tc.pre, tc.caps, tc.warned, got, tc.want)
		}
	}
}

func TestKeyScore(t *testing.T) {
	for _, tc := range []struct {
		typ  string
		bits int
		want int
	}{
		{"rsa", 511, 20}, {"rsa", 512, 40}, {"rsa", 1023, 40}, {"rsa", 1024, 80}, {"rsa", 2047, 80}, {"rsa", 2048, 90}, {"rsa", 4096, 100},
		{"ecdsa", 109, 20}, {"ecdsa", 160, 80}, {"ecdsa", 224, 90}, {"ecdsa", 256, 100}, {"ed25519", 253, 100}, {"ec", 253, 100},
	} {
		if got := keyScore(tc.typ, tc.bits); got != tc.want {
			t.Errorf("keyScore(%s, %d) = %d, want %d", tc.typ, tc.bits, got, tc.want)
		}
	}
}

func TestLetter(t *testing.T) {
	for score, want := range map[int]string{100: "A", 80: "A", 79: "B", 65: "B", 64: "C", 50: "C", 49: "D", 35: "D", 34: "E", 20: "E", 19: "F", 0: "F"} {
		if got := letter(score); got != want {
			t.Errorf("letter(%d) = %s, want %s", score, got, want)
		}
	}
}
