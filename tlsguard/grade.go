package tlsguard

import (
	"crypto/tls"
	"fmt"
	"slices"

	"github.com/hardtls/caddy-hardtls/hstspolicy"
)

// Grading follows SSL Labs' SSL Server Rating Guide (2009e through 2009r)
// the way testssl.sh 3.2 implements it in run_rating: three category
// scores (protocol support 30%, key exchange 30%, cipher strength 40%),
// letter thresholds 80/65/50/35/20, caps that only lower a grade, and A+
// for an A with no cap and no warning. Where testssl.sh departs from the
// guide (it awards A+ without any HSTS header), the guide wins; see
// docs/tlsguard.md for every difference.

// hstsGradeMinAge is the rating guide's HSTS threshold for A+: 180 days
// (testssl.sh's HSTS_MIN).
const hstsGradeMinAge = 180 * 24 * 60 * 60

// Letter grades from best to worst; T (not trusted) stands apart.
const (
	GradeAPlus  = "A+"
	GradeA      = "A"
	GradeAMinus = "A-"
	GradeB      = "B"
	GradeC      = "C"
	GradeD      = "D"
	GradeE      = "E"
	GradeF      = "F"
	GradeT      = "T"
)

var gradeOrder = []string{GradeAPlus, GradeA, GradeAMinus, GradeB, GradeC, GradeD, GradeE, GradeF}

// gradeRank orders grades: lower is better; T ranks after F.
func gradeRank(g string) int {
	if i := slices.Index(gradeOrder, g); i >= 0 {
		return i
	}
	return len(gradeOrder)
}

// Cap is a limit on the grade and why it applies.
type Cap struct {
	Grade  string `json:"grade"`
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// Score is one category of the rating guide: its score out of 100 and its
// weighted contribution to the final score.
type Score struct {
	Score    int `json:"score"`
	Weighted int `json:"weighted"`
}

// Grade is the rating of one site.
type Grade struct {
	// Grade is the letter, A+ to F, or T when the certificate is not
	// trusted (self-signed, expired or not yet valid, SHA-1, Caddy's
	// internal CA on a public name).
	Grade string `json:"grade"`
	// Score is the final score, 0 to 100; 0 with grade T, as the rating
	// guide's Certificate Inspection and testssl.sh give it.
	Score int `json:"score"`
	// Protocol, KeyExchange and CipherStrength are the category scores
	// of the configuration, computed whatever the trust.
	Protocol       Score `json:"protocol_support"`
	KeyExchange    Score `json:"key_exchange"`
	CipherStrength Score `json:"cipher_strength"`
	// TrustIgnored is the grade and score the site would get if its
	// certificate were trusted, as SSL Labs shows them ("if trust issues
	// are ignored"); only with grade T.
	TrustIgnored *TrustIgnored `json:"trust_ignored,omitempty"`
	Caps         []Cap         `json:"caps,omitempty"`
	Warnings     []string      `json:"warnings,omitempty"`
}

// TrustIgnored is a grade and score that leave the trust caps out.
type TrustIgnored struct {
	Grade string `json:"grade"`
	Score int    `json:"score"`
}

// GradeInput is what the rating guide looks at, as far as it is known
// in-process.
type GradeInput struct {
	// Versions are the protocol versions the site accepts.
	Versions []uint16
	// Suites are every suite a handshake may use, TLS 1.3 ones included.
	Suites []uint16
	// Curves are the ECDHE groups offered (their size counts as the
	// ephemeral key size).
	Curves []tls.CurveID
	// KeyType is the certificate key type (rsa, ecdsa, ed25519) and
	// KeyBits its size.
	KeyType string
	KeyBits int
	// HSTS is the Strict-Transport-Security header the site sends, nil
	// when it sends none; HSTSIssues are its parse findings.
	HSTS       *hstspolicy.Header
	HSTSIssues hstspolicy.Issues
	// CertCaps are the caps the certificate earns (trust, signature).
	CertCaps []Cap
	// Warnings are issues that keep an A from becoming A+.
	Warnings []string
}

// Rate computes the grade of a site.
func Rate(in GradeInput) Grade {
	var g Grade
	var caps []Cap
	capAt := func(grade, code, format string, args ...any) {
		caps = append(caps, Cap{Grade: grade, Code: code, Reason: fmt.Sprintf(format, args...)})
	}

	// Category 1, protocol support: the average of the best and the worst
	// protocol's score.
	best, worst := protocolScores(in.Versions)
	g.Protocol.Score = (best + worst) / 2
	g.Protocol.Weighted = g.Protocol.Score * 30 / 100
	if slices.Contains(in.Versions, tls.VersionTLS10) || slices.Contains(in.Versions, tls.VersionTLS11) {
		capAt(GradeB, "protocol.tls10_tls11", "TLS 1.0 or TLS 1.1 is offered")
	}
	if !slices.Contains(in.Versions, tls.VersionTLS13) {
		capAt(GradeAMinus, "protocol.no_tls13", "TLS 1.3 is not offered")
	}

	// Category 2, key exchange: the weakest of the certificate key and
	// the ephemeral keys (testssl.sh's set_key_str_score).
	kx := 100
	if in.KeyType != "" {
		kx = min(kx, keyScore(in.KeyType, in.KeyBits))
	}
	for _, c := range in.Curves {
		kx = min(kx, keyScore("ec", curveBits(c)))
	}
	g.KeyExchange.Score = kx
	g.KeyExchange.Weighted = kx * 30 / 100
	switch {
	case kx <= 40:
		capAt(GradeF, "key_exchange.insecure", "the certificate key or an ephemeral key is insecure (%s %d bits)", in.KeyType, in.KeyBits)
	case kx <= 80:
		capAt(GradeB, "key_exchange.weak", "the certificate key or an ephemeral key is weak (%s %d bits)", in.KeyType, in.KeyBits)
	}

	// Category 3, cipher strength: the average of the strongest and the
	// weakest suite's score.
	g.CipherStrength.Score = cipherScore(in.Suites)
	g.CipherStrength.Weighted = g.CipherStrength.Score * 40 / 100
	fs, aead := false, false
	for _, id := range in.Suites {
		fs = fs || suiteForwardSecret(id)
		aead = aead || suiteAEAD(id)
	}
	if len(in.Suites) > 0 && !fs {
		capAt(GradeB, "cipher.no_forward_secrecy", "no suite offers forward secrecy")
	}
	if len(in.Suites) > 0 && !aead {
		capAt(GradeB, "cipher.no_aead", "no suite offers AEAD")
	}

	caps = append(caps, hstsCaps(in.HSTS, in.HSTSIssues)...)
	caps = append(caps, in.CertCaps...)

	if g.Protocol.Score == 0 || g.KeyExchange.Score == 0 || g.CipherStrength.Score == 0 {
		g.Score = 0
	} else {
		g.Score = g.Protocol.Weighted + g.KeyExchange.Weighted + g.CipherStrength.Weighted
	}
	g.Caps = caps
	g.Warnings = slices.Clone(in.Warnings)
	warned := len(g.Warnings) > 0
	g.Grade = finalGrade(letter(g.Score), caps, warned)
	if g.Grade == GradeT {
		// Certificate Inspection: a certificate that is not trusted
		// zeroes the score; what the configuration earns otherwise is
		// kept apart.
		trusted := slices.DeleteFunc(slices.Clone(caps), func(c Cap) bool { return c.Grade == GradeT })
		g.TrustIgnored = &TrustIgnored{Grade: finalGrade(letter(g.Score), trusted, warned), Score: g.Score}
		g.Score = 0
	}
	return g
}

// finalGrade applies the caps to the score's letter: a T cap always wins,
// otherwise the worst cap lowers the letter, and an uncapped A becomes A+
// without warnings or A- with them.
func finalGrade(pre string, caps []Cap, warned bool) string {
	worst := ""
	for _, c := range caps {
		if c.Grade == GradeT {
			return GradeT
		}
		if worst == "" || gradeRank(c.Grade) > gradeRank(worst) {
			worst = c.Grade
		}
	}
	switch {
	case worst != "" && gradeRank(pre) <= gradeRank(worst):
		return worst
	case worst == "" && pre == GradeA && warned:
		return GradeAMinus
	case worst == "" && pre == GradeA:
		return GradeAPlus
	}
	return pre
}

// letter maps a final score to a letter.
func letter(score int) string {
	switch {
	case score >= 80:
		return GradeA
	case score >= 65:
		return GradeB
	case score >= 50:
		return GradeC
	case score >= 35:
		return GradeD
	case score >= 20:
		return GradeE
	}
	return GradeF
}

// protocolScores returns the scores of the best and the worst version
// offered: TLS 1.2 and 1.3 100, TLS 1.1 95, TLS 1.0 90, SSL 3.0 80.
func protocolScores(versions []uint16) (best, worst int) {
	if len(versions) == 0 {
		return 0, 0
	}
	score := func(v uint16) int {
		switch {
		case v >= tls.VersionTLS12:
			return 100
		case v == tls.VersionTLS11:
			return 95
		case v == tls.VersionTLS10:
			return 90
		case v == versionSSL30:
			return 80
		}
		return 0
	}
	best, worst = 0, 100
	for _, v := range versions {
		best = max(best, score(v))
		worst = min(worst, score(v))
	}
	return best, worst
}

// keyScore scores a key by its size (testssl.sh's set_key_str_score): for
// elliptic curves <110 bits 20, <123 40, <163 80, <225 90, else 100; for
// RSA and DH <512 20, <1024 40, <2048 80, <4096 90, else 100.
func keyScore(keyType string, bits int) int {
	limits := []int{512, 1024, 2048, 4096}
	if keyType == "ec" || keyType == "ecdsa" || keyType == "ed25519" {
		limits = []int{110, 123, 163, 225}
	}
	for i, score := range []int{20, 40, 80, 90} {
		if bits < limits[i] {
			return score
		}
	}
	return 100
}

// curveBits is the strength-relevant size of a group; the hybrid
// X25519MLKEM768 counts as its X25519 part.
func curveBits(c tls.CurveID) int {
	switch c {
	case tls.X25519, tls.X25519MLKEM768:
		return 253
	case tls.CurveP256:
		return 256
	case tls.CurveP384:
		return 384
	case tls.CurveP521:
		return 521
	}
	return 0
}

// cipherScore averages the scores of the strongest and the weakest suite:
// 256 bits or more 100, 128 or more 80, anything else 20.
func cipherScore(suites []uint16) int {
	if len(suites) == 0 {
		return 0
	}
	bestBits, worstBits := 0, 1<<30
	for _, id := range suites {
		bestBits = max(bestBits, suiteBits(id))
		worstBits = min(worstBits, suiteBits(id))
	}
	score := func(bits int) int {
		switch {
		case bits >= 256:
			return 100
		case bits >= 128:
			return 80
		case bits > 0:
			return 20
		}
		return 0
	}
	return (score(bestBits) + score(worstBits)) / 2
}

// hstsCaps caps at A- a site whose HSTS header is missing, invalid,
// disabled or shorter than 180 days: the rating guide (2009e) reserves A+
// for HSTS of at least six months. Invalid is what browsers ignore (RFC
// 6797 section 6.1), a repeated directive included, which hstspreload
// only warns about.
func hstsCaps(h *hstspolicy.Header, issues hstspolicy.Issues) []Cap {
	switch {
	case h == nil:
		return []Cap{{GradeAMinus, "hsts.missing", "no Strict-Transport-Security header (HSTS)"}}
	case issues.IgnoredByBrowsers() || h.MaxAge == nil:
		return []Cap{{GradeAMinus, "hsts.invalid", "the Strict-Transport-Security header is invalid"}}
	case *h.MaxAge == 0:
		return []Cap{{GradeAMinus, "hsts.disabled", "HSTS is disabled (max-age=0)"}}
	case *h.MaxAge < hstsGradeMinAge:
		return []Cap{{GradeAMinus, "hsts.short", fmt.Sprintf("HSTS max-age=%d is below %d seconds (180 days)", *h.MaxAge, hstsGradeMinAge)}}
	}
	return nil
}
