package tlsguard

import "crypto/tls"

// The fixed slots of the handshake counters: every label value of the
// telemetry metrics comes from these lists, so series stay bounded.

// Version slots of the counters.
const (
	slotTLS13 = iota
	slotTLS12
	slotTLS11
	slotTLS10
	slotOtherVersion
	numVersionSlots
)

var versionSlotNames = [numVersionSlots]string{"tls1.3", "tls1.2", "tls1.1", "tls1.0", "other"}

func versionSlot(v uint16) int {
	switch v {
	case tls.VersionTLS13:
		return slotTLS13
	case tls.VersionTLS12:
		return slotTLS12
	case tls.VersionTLS11:
		return slotTLS11
	case tls.VersionTLS10:
		return slotTLS10
	}
	return slotOtherVersion
}

// suiteSlots lists every suite Go implements; a counter slot exists for
// each, plus one for anything else. It is computed once and never changed.
var suiteSlots = func() []uint16 {
	var ids []uint16
	for _, cs := range tls.CipherSuites() {
		ids = append(ids, cs.ID)
	}
	for _, cs := range tls.InsecureCipherSuites() {
		ids = append(ids, cs.ID)
	}
	return ids
}()

// maxSuiteSlots bounds the suite dimension; Go implements 25 suites.
const maxSuiteSlots = 40

func suiteSlot(id uint16) int {
	for i, s := range suiteSlots {
		if s == id {
			return i
		}
	}
	return len(suiteSlots)
}

func suiteSlotName(i int) string {
	if i < len(suiteSlots) {
		return tls.CipherSuiteName(suiteSlots[i])
	}
	return "other"
}

// maxVersion is the best real version offered, ignoring GREASE values
// (RFC 8701: 0x?A?A).
func maxVersion(versions []uint16) uint16 {
	var best uint16
	for _, v := range versions {
		if v&0x0f0f == 0x0a0a {
			continue
		}
		best = max(best, v)
	}
	return best
}

// Key exchange group slots: the groups Go implements, by Caddy's names
// (and, for the hybrids Caddy cannot configure but clients offer, the
// same lower-case form), then none (a TLS 1.2 handshake without ECDHE)
// and other (any group ID Go might add: a label value from a client's
// choice would be unbounded).
const (
	slotX25519MLKEM768 = iota
	slotSecP256r1MLKEM768
	slotSecP384r1MLKEM1024
	slotX25519
	slotP256
	slotP384
	slotP521
	slotNoGroup
	slotOtherGroup
	numGroupSlots
)

var groupSlotNames = [numGroupSlots]string{
	"x25519mlkem768", "secp256r1mlkem768", "secp384r1mlkem1024",
	"x25519", "secp256r1", "secp384r1", "secp521r1", "none", "other",
}

func groupSlot(id tls.CurveID) int {
	switch id {
	case tls.X25519MLKEM768:
		return slotX25519MLKEM768
	case tls.SecP256r1MLKEM768:
		return slotSecP256r1MLKEM768
	case tls.SecP384r1MLKEM1024:
		return slotSecP384r1MLKEM1024
	case tls.X25519:
		return slotX25519
	case tls.CurveP256:
		return slotP256
	case tls.CurveP384:
		return slotP384
	case tls.CurveP521:
		return slotP521
	case 0:
		return slotNoGroup
	}
	return slotOtherGroup
}

// isMLKEMHybrid reports whether a group is one of the post-quantum hybrid
// key exchanges that combine ML-KEM with an elliptic curve
// (draft-ietf-tls-ecdhe-mlkem): X25519MLKEM768 (4588), SecP256r1MLKEM768
// (4587) and SecP384r1MLKEM1024 (4589).
func isMLKEMHybrid(id tls.CurveID) bool {
	switch id {
	case tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024:
		return true
	}
	return false
}

// offersMLKEM reports whether a client's supported groups include an
// ML-KEM hybrid. (Which groups it sent key shares for is not exposed by
// crypto/tls; a client that offers a hybrid without its share gets a
// HelloRetryRequest, counted with the handshake.)
func offersMLKEM(groups []tls.CurveID) bool {
	for _, g := range groups {
		if isMLKEMHybrid(g) {
			return true
		}
	}
	return false
}

// Key exchange kinds of a handshake, the dimension of the per-site
// counters.
const (
	kexPostQuantum = iota // an ML-KEM hybrid
	kexClassical          // an elliptic curve alone
	kexNone               // no (EC)DHE: TLS 1.2 RSA key transport
	numKexKinds
)

var kexKindNames = [numKexKinds]string{"post_quantum", "classical", "none"}

func kexKind(id tls.CurveID) int {
	switch {
	case isMLKEMHybrid(id):
		return kexPostQuantum
	case id == 0:
		return kexNone
	}
	return kexClassical
}

// extensionECH is the encrypted_client_hello extension
// (draft-ietf-tls-esni, code point 0xfe0d since draft 13, the one Go and
// Caddy implement). An inner ClientHello
// carries it too, so it is present whenever a client offers ECH, and in
// GREASE ECH, which browsers send when they know no ECH config.
const extensionECH = 0xfe0d

// offersECH reports whether a ClientHello carries the ECH extension.
func offersECH(extensions []uint16) bool {
	for _, e := range extensions {
		if e == extensionECH {
			return true
		}
	}
	return false
}
