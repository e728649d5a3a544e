package sct

import (
	"crypto/x509"
	"fmt"
	"strings"
	"time"
)

// ChromeLongLifetime is the certificate lifetime above which Chrome's CT
// policy asks for a third embedded SCT: certificates valid for at most 180
// days need SCTs from 2 distinct logs, longer ones from 3.
const ChromeLongLifetime = 180 * 24 * time.Hour

// CodeTooFewSCTs is the finding code of a certificate that fails
// Chrome's CT policy.
const CodeTooFewSCTs = "cert.ct.too_few_scts"

// Verdict is the outcome of checking one certificate against Chrome's CT
// policy. When Compliant is false, Code, Message and Fix describe the
// finding; when it is true, Message says why (and Code and Fix are empty).
type Verdict struct {
	Compliant bool `json:"compliant"`
	// Exempt is true for certificates from an internal CA, which Chrome
	// does not hold to its CT policy.
	Exempt bool `json:"exempt,omitempty"`
	// Required is the number of distinct logs the policy asks of embedded
	// SCTs for this certificate's lifetime.
	Required int `json:"required"`
	// EmbeddedLogs and TLSLogs count the distinct logs among the SCTs
	// that parsed, per source.
	EmbeddedLogs int `json:"embedded_logs"`
	TLSLogs      int `json:"tls_logs"`

	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// ChromePolicy checks leaf, with the SCTs r found for it, against the SCT
// counts of Chrome's CT policy for certificates issued from 15 April 2022
// (https://googlechrome.github.io/CertificateTransparency/ct_policy.html):
// embedded SCTs from at least 2 distinct logs for a lifetime (notAfter
// minus notBefore) of at most 180 days and 3 beyond, or at least 2 SCTs
// from distinct logs delivered in the TLS extension. internal says the
// certificate comes from a CA that is not publicly trusted (Caddy's
// internal CA, a private PKI): Chrome enforces CT only for publicly
// trusted certificates, so such a certificate is exempt.
//
// Chrome also asks that the logs be run by at least 2 distinct operators
// and be in a usable state, which needs Chrome's log list: distinct log
// IDs are what this check can count, so it finds every certificate Chrome
// rejects for too few SCTs but not every one it rejects for other reasons.
func ChromePolicy(leaf *x509.Certificate, r Report, internal bool) Verdict {
	lifetime := leaf.NotAfter.Sub(leaf.NotBefore)
	v := Verdict{
		Required:     2,
		EmbeddedLogs: len(r.Logs(SourceEmbedded)),
		TLSLogs:      len(r.Logs(SourceTLS)),
	}
	if lifetime > ChromeLongLifetime {
		v.Required = 3
	}
	days := lifetime.Hours() / 24
	switch {
	case internal:
		v.Compliant, v.Exempt = true, true
		v.Message = "issued by an internal CA: Chrome's CT policy covers only publicly trusted certificates"
	case v.EmbeddedLogs >= v.Required:
		v.Compliant = true
		v.Message = fmt.Sprintf("embedded SCTs from %d distinct logs; Chrome requires %d for a lifetime of %.0f days", v.EmbeddedLogs, v.Required, days)
	case v.TLSLogs >= 2:
		v.Compliant = true
		v.Message = fmt.Sprintf("SCTs from %d distinct logs in the TLS extension; Chrome requires 2", v.TLSLogs)
	default:
		v.Code = CodeTooFewSCTs
		v.Message = fmt.Sprintf("the certificate has %s and %s; Chrome's CT policy requires embedded SCTs from at least %d distinct logs for a lifetime of %.0f days (%s), or SCTs from 2 distinct logs in the TLS extension, and rejects the certificate otherwise",
			describe(r.Embedded, v.EmbeddedLogs, "embedded"), describe(r.TLS, v.TLSLogs, "TLS-delivered"),
			v.Required, days, lifetimeRule(lifetime))
		if len(r.Errors) > 0 {
			v.Message += fmt.Sprintf("; %d SCT problems: %s", len(r.Errors), strings.Join(r.Errors, "; "))
		}
		v.Fix = "obtain the certificate from a publicly trusted CA that embeds SCTs (ACME CAs such as Let's Encrypt do); if a private CA issued it, mark that CA as internal to exempt it"
	}
	return v
}

// describe renders "3 embedded SCTs from 2 distinct logs".
func describe(n, logs int, what string) string {
	if n == 0 {
		return "no " + what + " SCTs"
	}
	s := fmt.Sprintf("%d %s SCT%s from %d distinct log%s", n, what, plural(n), logs, plural(logs))
	if n > logs {
		s += fmt.Sprintf(" (%d repeat a log already counted)", n-logs)
	}
	return s
}

func lifetimeRule(lifetime time.Duration) string {
	if lifetime > ChromeLongLifetime {
		return "over 180 days: 3 logs"
	}
	return "180 days or less: 2 logs"
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
