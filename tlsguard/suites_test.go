package tlsguard

import (
	"crypto/tls"
	"strings"
	"testing"
)

func TestSuiteFacts(t *testing.T) {
	for _, tc := range []struct {
		id        uint16
		fs, aead  bool
		bits      int
		weakness  string
		tls13, ok bool
	}{
		{tls.TLS_AES_128_GCM_SHA256, true, true, 128, "", true, true},
		{tls.TLS_CHACHA20_POLY1305_SHA256, true, true, 256, "", true, true},
		{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, true, true, 256, "", false, true},
		{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, true, true, 256, "", false, true},
		{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, true, false, 128, "has no AEAD", false, true},
		{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, false, true, 128, "has no forward secrecy", false, true},
		{tls.TLS_RSA_WITH_AES_256_CBC_SHA, false, false, 256, "has neither forward secrecy", false, true},
		{tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA, false, false, 112, "has neither", false, true},
		{0x00ff, false, false, 0, "has neither", false, false},
	} {
		name := tls.CipherSuiteName(tc.id)
		if got := suiteForwardSecret(tc.id); got != tc.fs {
			t.Errorf("%s: forward secret %v, want %v", name, got, tc.fs)
		}
		if got := suiteAEAD(tc.id); got != tc.aead {
			t.Errorf("%s: AEAD %v, want %v", name, got, tc.aead)
		}
		if got := suiteBits(tc.id); got != tc.bits {
			t.Errorf("%s: %d bits, want %d", name, got, tc.bits)
		}
		if got := suiteTLS13(tc.id); got != tc.tls13 {
			t.Errorf("%s: TLS 1.3 %v, want %v", name, got, tc.tls13)
		}
		if got := suiteKnown(tc.id); got != tc.ok {
			t.Errorf("%s: known %v, want %v", name, got, tc.ok)
		}
		if got := suiteWeakness(tc.id); (tc.weakness == "") != (got == "") || (tc.weakness != "" && !strings.Contains(got, tc.weakness)) {
			t.Errorf("%s: weakness %q, want %q", name, got, tc.weakness)
		}
	}
}

// TestEverySecureSuiteClassified checks that every suite Caddy accepts in
// cipher_suites has a key size, so the cipher strength score never sees 0.
func TestEverySecureSuiteClassified(t *testing.T) {
	for _, cs := range tls.CipherSuites() {
		if suiteBits(cs.ID) == 0 {
			t.Errorf("%s: no key size", cs.Name)
		}
	}
}
