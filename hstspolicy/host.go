package hstspolicy

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/hardtls/caddy-hardtls/internal/strictjson"
)

// maxHostLen bounds the host names NormalizeHost accepts (RFC 1035 section
// 2.3.4 allows 253 octets in text form; the slack covers a port and an
// IPv6 literal).
const maxHostLen = 300

// Reasons NormalizeHost refuses a host. They are errors so that callers can
// log them; the redirect handler turns any of them into 400.
var (
	ErrHostEmpty   = errors.New("no host")
	ErrHostInvalid = errors.New("malformed host")
)

// NormalizeHost turns the authority of a request (a Host header value or
// the authority of an absolute-form request target) into the form used by
// the allow-list: ASCII, lower case, no trailing dot, no port; IPv6
// literals in brackets and canonical form; internationalised names in
// Punycode (IDNA 2008 lookup rules).
//
// It is strict by design, since its output goes into Location headers:
// userinfo ("@"), backslashes, slashes, percent-encoding, whitespace and
// control characters (CR, LF, NUL), empty labels, bad ports, bare IPv6 and
// the numeric shorthand IPv4 forms ("127.1", "0x7f.1") are all refused.
func NormalizeHost(authority string) (string, error) {
	if authority == "" {
		return "", ErrHostEmpty
	}
	if len(authority) > maxHostLen {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrHostInvalid, maxHostLen)
	}
	for i := 0; i < len(authority); i++ {
		if c := authority[i]; c < 0x80 && !hostByte(c) {
			return "", fmt.Errorf("%w: byte %q not allowed", ErrHostInvalid, c)
		}
	}
	if authority[0] == '[' {
		return normalizeIPv6(authority)
	}
	host, port, hasPort := strings.Cut(authority, ":")
	if hasPort {
		if err := checkPort(port); err != nil {
			return "", err
		}
	}
	return normalizeName(host)
}

// hostByte reports whether an ASCII byte may appear in an authority:
// letters, digits, '-', '.', ':' and the IPv6 brackets.
func hostByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == '-' || c == '.' || c == ':' || c == '[' || c == ']'
}

func normalizeIPv6(authority string) (string, error) {
	end := strings.IndexByte(authority, ']')
	if end < 0 {
		return "", fmt.Errorf("%w: unclosed IPv6 literal", ErrHostInvalid)
	}
	addr, err := netip.ParseAddr(authority[1:end])
	if err != nil || !addr.Is6() || addr.Zone() != "" {
		return "", fmt.Errorf("%w: bad IPv6 literal", ErrHostInvalid)
	}
	if rest := authority[end+1:]; rest != "" {
		port, ok := strings.CutPrefix(rest, ":")
		if !ok {
			return "", fmt.Errorf("%w: text after IPv6 literal", ErrHostInvalid)
		}
		if err := checkPort(port); err != nil {
			return "", err
		}
	}
	return "[" + addr.String() + "]", nil
}

func checkPort(port string) error {
	n, err := strconv.Atoi(port)
	if err != nil || !isDigits(port) || len(port) > 5 || n < 1 || n > 65535 {
		return fmt.Errorf("%w: bad port %q", ErrHostInvalid, port)
	}
	return nil
}

// normalizeName normalises a host name or IPv4 address without port.
func normalizeName(host string) (string, error) {
	host = strings.TrimSuffix(host, ".") // the root label: "example.com." is example.com
	if host == "" {
		return "", ErrHostEmpty
	}
	if strings.ContainsAny(host, "[]") {
		return "", fmt.Errorf("%w: brackets outside an IPv6 literal", ErrHostInvalid)
	}
	if !isASCII(host) {
		if !utf8.ValidString(host) {
			return "", fmt.Errorf("%w: not UTF-8", ErrHostInvalid)
		}
		ascii, err := idna.Lookup.ToASCII(host)
		if err != nil {
			return "", fmt.Errorf("%w: internationalised name: %v", ErrHostInvalid, err)
		}
		host = ascii
	}
	host = strings.ToLower(host)
	if addr, err := netip.ParseAddr(host); err == nil && addr.Is4() {
		return addr.String(), nil
	}
	if len(host) > 253 {
		return "", fmt.Errorf("%w: name longer than 253 bytes", ErrHostInvalid)
	}
	var label string
	for rest, more := host, true; more; {
		label, rest, more = strings.Cut(rest, ".")
		if err := checkLabel(label); err != nil {
			return "", err
		}
	}
	// A numeric last label is no DNS name: it is an IPv4 shorthand such as
	// "127.1" or "2130706433", which browsers would resolve as an address.
	if isDigits(label) {
		return "", fmt.Errorf("%w: numeric top-level label", ErrHostInvalid)
	}
	return host, nil
}

// checkLabel enforces the LDH rule (RFC 1123 section 2.1).
func checkLabel(label string) error {
	if label == "" {
		return fmt.Errorf("%w: empty label", ErrHostInvalid)
	}
	if len(label) > 63 {
		return fmt.Errorf("%w: label longer than 63 bytes", ErrHostInvalid)
	}
	if label[0] == '-' || label[len(label)-1] == '-' {
		return fmt.Errorf("%w: label starts or ends with '-'", ErrHostInvalid)
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("%w: byte %q in label", ErrHostInvalid, c)
		}
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// HostList is a normalised allow-list of host names: exact names, IP
// literals and one-label wildcards ("*.example.com", as Caddy's host
// matcher reads them).
type HostList struct {
	exact    map[string]struct{}
	suffixes []string // ".example.com" for "*.example.com"
}

// ParseHostList normalises patterns into a HostList. It refuses a bare "*"
// and wildcards anywhere but as the whole first label, since an allow-list
// that admits any host is an open redirect. Errors are *strictjson.FieldError
// naming hosts[i].
func ParseHostList(patterns []string) (HostList, error) {
	hl := HostList{exact: make(map[string]struct{}, len(patterns))}
	for i, p := range patterns {
		if err := hl.add(p); err != nil {
			return HostList{}, strictjson.InField(fmt.Sprintf("hosts[%d]", i), err)
		}
	}
	return hl, nil
}

// hostFix is how an allow-list entry should look.
const hostFix = `write a bare host name, IPv4 or IPv6 address (such as "example.com"), without scheme, port or path, or a wildcard over one label ("*.example.com")`

func (hl *HostList) add(pattern string) error {
	refuse := func(why, fix string) error {
		return &strictjson.FieldError{Value: strconv.Quote(pattern), Why: why, Fix: fix}
	}
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		name, err := normalizeName(rest)
		if err != nil {
			return refuse(err.Error(), hostFix)
		}
		if !strings.Contains(name, ".") {
			return refuse("a wildcard over a top-level name admits too many hosts", "list the host names")
		}
		hl.suffixes = append(hl.suffixes, "."+name)
		return nil
	}
	if strings.Contains(pattern, "*") {
		return refuse("only a whole first label may be a wildcard; a catch-all would allow redirects to any host", hostFix)
	}
	name, err := NormalizeName(pattern)
	if err != nil {
		return refuse(err.Error(), hostFix)
	}
	hl.exact[name] = struct{}{}
	return nil
}

// NormalizeName normalises a host name or IP address given in a config:
// like NormalizeHost, but a port is refused and an IPv6 address may be
// written with or without brackets.
func NormalizeName(name string) (string, error) {
	if addr, err := netip.ParseAddr(name); err == nil && addr.Is6() {
		name = "[" + name + "]"
	}
	if strings.Contains(name, "://") {
		return "", fmt.Errorf("%w: it is a URL", ErrHostInvalid)
	}
	if i := strings.LastIndexByte(name, ':'); i >= 0 && i > strings.LastIndexByte(name, ']') {
		return "", fmt.Errorf("%w: it has a port", ErrHostInvalid)
	}
	return NormalizeHost(name)
}

// Len returns the number of patterns in the list.
func (hl HostList) Len() int { return len(hl.exact) + len(hl.suffixes) }

// Allows reports whether the normalised host is on the list.
func (hl HostList) Allows(host string) bool {
	if _, ok := hl.exact[host]; ok {
		return true
	}
	for _, suffix := range hl.suffixes {
		if label, ok := strings.CutSuffix(host, suffix); ok && label != "" && !strings.Contains(label, ".") {
			return true
		}
	}
	return false
}

// Patterns returns the list's patterns, sorted, for logs and reports.
func (hl HostList) Patterns() []string {
	out := make([]string, 0, hl.Len())
	for h := range hl.exact {
		out = append(out, h)
	}
	for _, s := range hl.suffixes {
		out = append(out, "*"+s)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
