package tlsguard

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/hardtls/caddy-hardtls/internal/strictjson"
)

// Profile names.
const (
	ProfileModern       = "modern"
	ProfileIntermediate = "intermediate"
	ProfileCustom       = "custom"
)

// day is the unit of Mozilla's certificate lifespans.
const day = 24 * time.Hour

// mozillaHSTSMinAge is the HSTS max-age Mozilla's guidelines 6.0 ask of
// every configuration ("hsts_min_age": 63072000, two years).
const mozillaHSTSMinAge = 63072000

// Profile is a resolved TLS profile: what a connection policy may offer and
// what a served certificate should look like. The built-in profiles follow
// Mozilla's Server Side TLS guidelines 6.0
// (https://ssl-config.mozilla.org/guidelines/6.0.json).
type Profile struct {
	// Name is modern, intermediate or custom.
	Name string
	// MinVersion is the lowest protocol version allowed.
	MinVersion uint16
	// Suites are the TLS 1.2 cipher suites allowed, in Mozilla's order;
	// empty when the profile is TLS 1.3 only.
	Suites []uint16
	// TLS13Suites are the TLS 1.3 suites the profile names. Go does not let
	// them be configured; the profile test checks that Go's fixed set is
	// exactly this one.
	TLS13Suites []uint16
	// Curves are the key exchange groups allowed, in Mozilla's order.
	Curves []tls.CurveID
	// MaxCertLifetime is the longest certificate lifetime allowed
	// (NotAfter - NotBefore).
	MaxCertLifetime time.Duration
	// HSTSMinAge is the HSTS max-age the profile recommends, in seconds.
	HSTSMinAge int64
	// CertKeyTypes are the certificate key types allowed: "ecdsa", "rsa".
	CertKeyTypes []string
	// CertCurves are the ECDSA certificate curves allowed.
	CertCurves []string
	// CertSignatures are the certificate signature algorithms allowed.
	CertSignatures []x509.SignatureAlgorithm
	// RSAMinBits is the smallest RSA certificate key allowed.
	RSAMinBits int
}

// modernProfile is Mozilla's "modern" configuration: TLS 1.3 only.
func modernProfile() Profile {
	return Profile{
		Name:            ProfileModern,
		MinVersion:      tls.VersionTLS13,
		TLS13Suites:     tls13Suites(),
		Curves:          mozillaCurves(),
		MaxCertLifetime: 90 * day,
		HSTSMinAge:      mozillaHSTSMinAge,
		CertKeyTypes:    []string{"ecdsa"},
		CertCurves:      []string{"P-256", "P-384"},
		CertSignatures:  []x509.SignatureAlgorithm{x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512},
		// Mozilla sets no RSA size for modern (it allows no RSA
		// certificate); 2048 keeps the weak-key check meaningful.
		RSAMinBits: 2048,
	}
}

// intermediateProfile is Mozilla's "intermediate" configuration: TLS 1.2
// with the six ECDHE AES-GCM and ChaCha20 suites, and TLS 1.3.
func intermediateProfile() Profile {
	return Profile{
		Name:       ProfileIntermediate,
		MinVersion: tls.VersionTLS12,
		Suites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		TLS13Suites:     tls13Suites(),
		Curves:          mozillaCurves(),
		MaxCertLifetime: 366 * day,
		HSTSMinAge:      mozillaHSTSMinAge,
		CertKeyTypes:    []string{"ecdsa", "rsa"},
		CertCurves:      []string{"P-256", "P-384"},
		CertSignatures: []x509.SignatureAlgorithm{
			x509.SHA256WithRSA, x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512,
		},
		RSAMinBits: 2048,
	}
}

func tls13Suites() []uint16 {
	return []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256}
}

func mozillaCurves() []tls.CurveID {
	return []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384}
}

// CustomProfile is an explicit profile for operators whose clients need
// something the Mozilla profiles do not offer. Certificate rules are those
// of the intermediate profile.
type CustomProfile struct {
	// ProtocolMin is the lowest TLS version a policy may allow: "tls1.2"
	// or "tls1.3". Required.
	ProtocolMin string `json:"protocol_min,omitempty"`

	// CipherSuites are the TLS 1.2 cipher suites a policy may offer, by
	// their Go names (as in Caddy's cipher_suites). Required when
	// ProtocolMin is tls1.2; TLS 1.3 suites are not configurable.
	CipherSuites []string `json:"cipher_suites,omitempty"`

	// Curves are the key exchange groups a policy may offer, by their
	// Caddy names (x25519mlkem768, x25519, secp256r1, secp384r1,
	// secp521r1). Required.
	Curves []string `json:"curves,omitempty"`

	// MaxCertificateLifetime is the longest lifetime (NotAfter minus
	// NotBefore) a served certificate may have. Default: 366d.
	MaxCertificateLifetime caddy.Duration `json:"max_certificate_lifetime,omitempty"`
}

// resolve turns the custom profile into a Profile, or explains which field
// is wrong and how to fix it.
func (c *CustomProfile) resolve() (Profile, error) {
	p := intermediateProfile()
	p.Name = ProfileCustom
	p.Suites, p.Curves = nil, nil

	if c.ProtocolMin == "" {
		return Profile{}, &strictjson.FieldError{Field: "custom.protocol_min", Value: `""`, Why: "is required", Fix: "set tls1.2 or tls1.3"}
	}
	if err := CheckProtocolMin(c.ProtocolMin); err != nil {
		return Profile{}, err
	}
	p.MinVersion = tls.VersionTLS12
	if c.ProtocolMin == "tls1.3" {
		p.MinVersion = tls.VersionTLS13
	}

	if err := CheckCipherSuites(c.CipherSuites); err != nil {
		return Profile{}, err
	}
	for _, name := range c.CipherSuites {
		if id := caddytls.CipherSuiteID(name); !slices.Contains(p.Suites, id) {
			p.Suites = append(p.Suites, id)
		}
	}
	if p.MinVersion <= tls.VersionTLS12 && len(p.Suites) == 0 {
		return Profile{}, &strictjson.FieldError{Field: "custom.cipher_suites", Value: "[]", Why: "is required with protocol_min tls1.2",
			Fix: "list the TLS 1.2 suites to allow, e.g. " + strings.Join(suiteNames(intermediateProfile().Suites), " ")}
	}

	if len(c.Curves) == 0 {
		return Profile{}, &strictjson.FieldError{Field: "custom.curves", Value: "[]", Why: "is required",
			Fix: "list the key exchange groups to allow, e.g. " + strings.Join(curveNames(mozillaCurves()), " ")}
	}
	if err := CheckCurves(c.Curves); err != nil {
		return Profile{}, err
	}
	for _, name := range c.Curves {
		if id := caddytls.SupportedCurves[strings.ToLower(name)]; !slices.Contains(p.Curves, id) {
			p.Curves = append(p.Curves, id)
		}
	}

	if c.MaxCertificateLifetime < 0 {
		return Profile{}, &strictjson.FieldError{Field: "custom.max_certificate_lifetime", Value: strictjson.DurationValue(c.MaxCertificateLifetime),
			Why: "is negative", Fix: "use a duration such as 90d"}
	}
	if c.MaxCertificateLifetime > 0 {
		p.MaxCertLifetime = time.Duration(c.MaxCertificateLifetime)
	}
	return p, nil
}

// resolveProfile returns the named built-in profile, or the custom one.
func resolveProfile(name string, custom *CustomProfile) (Profile, error) {
	if err := CheckProfile(name); err != nil {
		return Profile{}, err
	}
	if err := CheckCustom(name, custom); err != nil {
		return Profile{}, err
	}
	switch name {
	case ProfileModern:
		return modernProfile(), nil
	case ProfileIntermediate:
		return intermediateProfile(), nil
	}
	return custom.resolve()
}

// The value rules of the config, exported so that the Caddyfile adapter
// reports the same errors with file and line. Each error names the field,
// the value and the fix.

// CheckProfile reports whether name is a profile: modern, intermediate or
// custom.
func CheckProfile(name string) error {
	switch name {
	case ProfileModern, ProfileIntermediate, ProfileCustom:
		return nil
	}
	return &strictjson.FieldError{Field: "profile", Value: strconv.Quote(name), Why: "is not a profile", Fix: "use modern, intermediate or custom"}
}

// CheckCustom reports whether the custom profile's settings are given
// exactly when the profile is custom.
func CheckCustom(profile string, custom *CustomProfile) error {
	switch {
	case custom != nil && profile != ProfileCustom:
		return &strictjson.FieldError{Field: "profile", Value: strconv.Quote(profile),
			Why: "takes no custom settings (protocol_min, cipher_suites, curves, max_certificate_lifetime), and they are set",
			Fix: "set profile custom, or remove the custom settings"}
	case custom == nil && profile == ProfileCustom:
		return &strictjson.FieldError{Field: "profile", Value: strconv.Quote(profile),
			Why: "needs its settings: protocol_min, cipher_suites (with tls1.2) and curves",
			Fix: "set them under custom, or use profile modern or intermediate"}
	}
	return nil
}

// CheckProtocolMin reports whether v is a minimum version a custom profile
// may set: tls1.2 or tls1.3.
func CheckProtocolMin(v string) error {
	if v == "tls1.2" || v == "tls1.3" {
		return nil
	}
	return &strictjson.FieldError{Field: "custom.protocol_min", Value: strconv.Quote(v), Why: "is not a minimum TLS version a profile may set", Fix: "use tls1.2 or tls1.3"}
}

// CheckCipherSuites reports every name a custom profile cannot list: names
// Caddy does not accept (Go's names, as in Caddy's cipher_suites) and TLS
// 1.3 suites, which Go does not let a server configure.
func CheckCipherSuites(names []string) error {
	fix := "list TLS 1.2 suites by their Go names, such as " + strings.Join(suiteNames(intermediateProfile().Suites[:2]), " ")
	var bad []error
	for i, name := range names {
		why := ""
		switch id := caddytls.CipherSuiteID(name); {
		case id == 0:
			why = "is not a cipher suite Caddy accepts"
		case suiteTLS13(id):
			why = "is a TLS 1.3 suite, which Go does not let a server configure"
		default:
			continue
		}
		bad = append(bad, &strictjson.FieldError{Field: fmt.Sprintf("custom.cipher_suites[%d]", i), Value: strconv.Quote(name), Why: why, Fix: fix})
	}
	return errors.Join(bad...)
}

// CheckCurves reports every name a custom profile cannot list: groups
// Caddy does not support, by its names, in any case (x25519, X25519).
func CheckCurves(names []string) error {
	var bad []error
	for i, name := range names {
		if _, ok := caddytls.SupportedCurves[strings.ToLower(name)]; !ok {
			bad = append(bad, &strictjson.FieldError{Field: fmt.Sprintf("custom.curves[%d]", i), Value: strconv.Quote(name),
				Why: "is not a curve Caddy supports", Fix: "use " + strings.Join(curveNames(allCurves()), ", ")})
		}
	}
	return errors.Join(bad...)
}

// allowsTLS12 reports whether the profile allows TLS 1.2 at all.
func (p Profile) allowsTLS12() bool { return p.MinVersion <= tls.VersionTLS12 }

// allowsSuite reports whether a TLS 1.2 suite is allowed.
func (p Profile) allowsSuite(id uint16) bool { return slices.Contains(p.Suites, id) }

// allowsCurve reports whether a key exchange group is allowed.
func (p Profile) allowsCurve(id tls.CurveID) bool { return slices.Contains(p.Curves, id) }

// versionSSL30 is SSL 3.0's protocol version (RFC 6101). crypto/tls
// deprecates its tls.VersionSSL30 (Go never negotiates it); tlsguard only
// names it in findings and scores it as the rating guide does.
const versionSSL30 = 0x0300

// versionName returns Caddy's name of a protocol version ("tls1.2").
func versionName(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "tls1.3"
	case tls.VersionTLS12:
		return "tls1.2"
	case tls.VersionTLS11:
		return "tls1.1"
	case tls.VersionTLS10:
		return "tls1.0"
	case versionSSL30:
		return "ssl3.0"
	}
	return fmt.Sprintf("0x%04x", v)
}

// versionsBetween lists the versions from lo to hi, lowest first.
func versionsBetween(lo, hi uint16) []uint16 {
	var out []uint16
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13} {
		if v >= lo && v <= hi {
			out = append(out, v)
		}
	}
	return out
}

// curveName returns Caddy's name of a group, or Go's for groups Caddy
// cannot configure.
func curveName(id tls.CurveID) string {
	for name, cid := range caddytls.SupportedCurves {
		if cid == id {
			return name
		}
	}
	if id == 0 {
		return "0 (unknown)"
	}
	return id.String()
}

func curveNames(ids []tls.CurveID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = curveName(id)
	}
	return out
}

// allCurves lists the groups Caddy supports, in a stable order.
func allCurves() []tls.CurveID {
	return []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384, tls.CurveP521}
}

// knownCurve reports whether Go implements the group.
func knownCurve(id tls.CurveID) bool { return slices.Contains(allCurves(), id) }

func suiteNames(ids []uint16) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = tls.CipherSuiteName(id)
	}
	return out
}
