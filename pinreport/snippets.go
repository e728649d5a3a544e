package pinreport

import (
	"fmt"
	"html"
	"io"
	"net"
	"strings"
	"time"

	"github.com/hardtls/caddy-hardtls/internal/certs"
)

// Text views of the inventory, ready to paste: a DNS zone-file fragment
// with TLSA records (RFC 6698), an OkHttp CertificatePinner and an
// Android network security config <pin-set>.

// dnsNames returns the names of e that can own DNS records or be pinned
// by host name: no IP addresses, no e-mail addresses or URIs.
func dnsNames(e *entry) []string {
	var out []string
	for _, n := range e.Names {
		if net.ParseIP(n) != nil || strings.ContainsAny(n, "@:/") {
			continue
		}
		out = append(out, n)
	}
	return out
}

// writeTLSA writes TLSA records for port/proto of each entry's names.
// Wildcard names cannot own a TLSA record of their own (the wildcard
// label must be leftmost), so they get a comment instead.
func writeTLSA(w io.Writer, entries []*entry, port int, proto string, now time.Time) error {
	ew := &errWriter{w: w}
	ew.printf("; TLSA records by pinreport, %s\n", now.UTC().Format(time.RFC3339))
	ew.printf("; 3 1 1 (DANE-EE) pins the leaf key, which changes on every renewal unless reuse_private_keys is on;\n")
	ew.printf("; 2 1 1 (DANE-TA) pins the issuer key. Publish the next records before a key changes.\n")
	for _, e := range entries {
		ew.printf("\n; %s  serial %s  expires %s  issuer %s\n",
			strings.Join(e.Names, " "), certs.SerialHex(e.Leaf), e.Leaf.NotAfter.UTC().Format(time.RFC3339), e.Issuer)
		issuer, hasIssuer := e.IssuerPin()
		for _, n := range dnsNames(e) {
			if strings.HasPrefix(n, "*.") {
				ew.printf("; %s is a wildcard: add the records below under _%d._%s.<host> for each host it serves\n", n, port, proto)
				n = "<host>" + n[1:]
			}
			owner := fmt.Sprintf("_%d._%s.%s.", port, proto, strings.TrimSuffix(n, "."))
			ew.printf("%s IN TLSA %s\n", owner, e.SPKI.TLSA(tlsaDANEEE))
			if hasIssuer {
				ew.printf("%s IN TLSA %s\n", owner, issuer.TLSA(tlsaDANETA))
			}
		}
	}
	return ew.err
}

// snippetPin is a pin with a note saying where it comes from.
type snippetPin struct {
	pin  Pin
	note string
}

// snippetPins returns the pins to paste for e: the served chain, then
// the configured expected pins that are not in it (backups).
func snippetPins(e *entry, rules pinRules) []snippetPin {
	out := []snippetPin{{e.SPKI, fmt.Sprintf("leaf %s, changes on renewal unless reuse_private_keys is on", e.FirstName())}}
	for _, cc := range e.Chain {
		out = append(out, snippetPin{cc.SPKI, "issuer " + cc.Subject})
	}
	for _, rule := range rules.appliesTo(e.Names) {
	next:
		for _, p := range rule.pins {
			for _, have := range out {
				if have.pin == p {
					continue next
				}
			}
			out = append(out, snippetPin{p, "expected pin of " + rule.pattern + " in the pinreport config"})
		}
	}
	return out
}

// writeOkHttp writes a Kotlin CertificatePinner for the entries.
func writeOkHttp(w io.Writer, entries []*entry, rules pinRules, now time.Time) error {
	ew := &errWriter{w: w}
	ew.printf("// CertificatePinner by pinreport, %s.\n", now.UTC().Format(time.RFC3339))
	ew.printf("// OkHttp accepts a chain when any of its certificates matches any pin of the host.\n")
	ew.printf("// Keep at least two pins per host (a backup key or the issuer) so a key change does not lock clients out.\n")
	ew.printf("val certificatePinner = CertificatePinner.Builder()\n")
	for _, e := range entries {
		pins := snippetPins(e, rules)
		for _, n := range dnsNames(e) {
			for _, p := range pins {
				ew.printf("    .add(%q, %q) // %s\n", n, p.pin.OkHttp(), p.note)
			}
		}
	}
	ew.printf("    .build()\n")
	return ew.err
}

// writeAndroid writes an Android network security config with a
// <pin-set> per certificate. The pin-set expires with the last-expiring
// certificate it pins (usually the issuer), after which Android stops
// enforcing it rather than lock out an app that was not updated.
func writeAndroid(w io.Writer, entries []*entry, rules pinRules, now time.Time) error {
	ew := &errWriter{w: w}
	ew.printf("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n")
	ew.printf("<!-- network security config by pinreport, %s -->\n", now.UTC().Format(time.RFC3339))
	ew.printf("<network-security-config>\n")
	for _, e := range entries {
		names := dnsNames(e)
		if len(names) == 0 {
			continue
		}
		ew.printf("    <domain-config>\n")
		for _, n := range names {
			sub := "false"
			if base, ok := strings.CutPrefix(n, "*."); ok {
				n, sub = base, "true"
			}
			ew.printf("        <domain includeSubdomains=%q>%s</domain>\n", sub, html.EscapeString(n))
		}
		expires := e.Leaf.NotAfter
		for _, cc := range e.Chain {
			if cc.NotAfter.After(expires) {
				expires = cc.NotAfter
			}
		}
		ew.printf("        <pin-set expiration=%q>\n", expires.UTC().Format(time.DateOnly))
		for _, p := range snippetPins(e, rules) {
			ew.printf("            <!-- %s -->\n", xmlComment(p.note))
			ew.printf("            <pin digest=\"SHA-256\">%s</pin>\n", p.pin)
		}
		ew.printf("        </pin-set>\n")
		ew.printf("    </domain-config>\n")
	}
	ew.printf("</network-security-config>\n")
	return ew.err
}

// xmlComment makes s safe inside an XML comment, which may not hold "--".
func xmlComment(s string) string {
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "- -")
	}
	return s
}

// errWriter keeps the first write error, so the writers above can print
// without checking each line.
type errWriter struct {
	w   io.Writer
	err error
}

func (ew *errWriter) printf(format string, args ...any) {
	if ew.err == nil {
		_, ew.err = fmt.Fprintf(ew.w, format, args...)
	}
}
