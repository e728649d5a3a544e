package tlsguard

import (
	"crypto/tls"
	"strings"
)

// Facts about cipher suites, read from their IANA names, which encode the
// key exchange ("ECDHE_", "DHE_" give forward secrecy), the record
// protection (GCM, CCM and ChaCha20-Poly1305 are AEAD) and the key size.
// TLS 1.3 suites always have both properties.

// suiteTLS13 reports whether id is a TLS 1.3 suite.
func suiteTLS13(id uint16) bool { return id>>8 == 0x13 }

// suiteForwardSecret reports whether the suite's key exchange is ephemeral.
func suiteForwardSecret(id uint16) bool {
	if suiteTLS13(id) {
		return true
	}
	name := tls.CipherSuiteName(id)
	return strings.HasPrefix(name, "TLS_ECDHE_") || strings.HasPrefix(name, "TLS_DHE_")
}

// suiteAEAD reports whether the suite protects records with an AEAD.
func suiteAEAD(id uint16) bool {
	if suiteTLS13(id) {
		return true
	}
	name := tls.CipherSuiteName(id)
	return strings.Contains(name, "_GCM_") || strings.Contains(name, "_CCM") || strings.Contains(name, "CHACHA20_POLY1305")
}

// suiteBits is the symmetric key size of the suite, as the rating guide's
// cipher strength category counts it (3DES counts as 112).
func suiteBits(id uint16) int {
	name := tls.CipherSuiteName(id)
	switch {
	case strings.Contains(name, "AES_256"), strings.Contains(name, "CHACHA20"):
		return 256
	case strings.Contains(name, "AES_128"):
		return 128
	case strings.Contains(name, "3DES"):
		return 112
	case strings.Contains(name, "RC4_128"):
		return 128
	}
	return 0
}

// suiteKnown reports whether Go implements the suite.
func suiteKnown(id uint16) bool {
	for _, cs := range tls.CipherSuites() {
		if cs.ID == id {
			return true
		}
	}
	for _, cs := range tls.InsecureCipherSuites() {
		if cs.ID == id {
			return true
		}
	}
	return false
}

// suiteWeakness says what a TLS 1.2 suite lacks, or "" when it has
// forward secrecy and AEAD.
func suiteWeakness(id uint16) string {
	fs, aead := suiteForwardSecret(id), suiteAEAD(id)
	switch {
	case !fs && !aead:
		return "has neither forward secrecy (static RSA key exchange) nor AEAD (CBC with HMAC)"
	case !fs:
		return "has no forward secrecy (static RSA key exchange)"
	case !aead:
		return "has no AEAD (CBC with HMAC, exposed to padding-oracle attacks such as Lucky13)"
	}
	return ""
}
