package hstspolicy

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hardtls/caddy-hardtls/internal/finding"
)

// Header is the meaning of one Strict-Transport-Security header value
// (RFC 6797 section 6.1). A nil MaxAge means the directive is absent.
type Header struct {
	MaxAge            *int64 `json:"max_age,omitempty"`
	IncludeSubDomains bool   `json:"include_subdomains"`
	Preload           bool   `json:"preload"`
}

// String renders h in the canonical form browsers and hstspreload.org
// expect: "max-age=N; includeSubDomains; preload".
func (h Header) String() string {
	var sb strings.Builder
	if h.MaxAge != nil {
		sb.WriteString("max-age=")
		sb.WriteString(strconv.FormatInt(*h.MaxAge, 10))
	}
	if h.IncludeSubDomains {
		if sb.Len() > 0 {
			sb.WriteString("; ")
		}
		sb.WriteString("includeSubDomains")
	}
	if h.Preload {
		if sb.Len() > 0 {
			sb.WriteString("; ")
		}
		sb.WriteString("preload")
	}
	return sb.String()
}

// Severity says whether an Issue makes a header unusable (SeverityError)
// or only unwise (SeverityWarning); it is the scale every hardtls module
// reports with.
type Severity = finding.Severity

// Severities of issues.
const (
	SeverityError   = finding.Error
	SeverityWarning = finding.Warning
)

// Issue is one finding about an HSTS header. Codes are those of
// github.com/chromium/hstspreload (e.g. header.preloadable.max_age.below_1_year),
// with its severities, so that they can be looked up against
// hstspreload.org's messages; findings the library does not have use the
// same style under header.recommendation.*.
type Issue struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	// Fix tells the operator what to change; empty for parse findings on
	// headers hardtls did not write.
	Fix string `json:"fix,omitempty"`
}

// Rating implements finding.Rated.
func (i Issue) Rating() (string, Severity) { return i.Code, i.Severity }

func (i Issue) String() string {
	s := i.Message + " (" + i.Code + ")"
	if i.Fix != "" {
		s += "; " + i.Fix
	}
	return s
}

// Issues is a list of findings, in the order they were found.
type Issues []Issue

// Errors returns only the findings of SeverityError, in order.
func (is Issues) Errors() Issues { return finding.Only(is, SeverityError) }

// Warnings returns only the findings of SeverityWarning, in order.
func (is Issues) Warnings() Issues { return finding.Only(is, SeverityWarning) }

// Has reports whether a finding with the given code is present.
func (is Issues) Has(code string) bool { return finding.Has(is, code) }

// IgnoredByBrowsers reports whether a browser following RFC 6797 drops
// the header these parse findings describe: any error, or a repeated
// directive. Section 6.1 says "All directives MUST appear only once" and
// has user agents ignore a header field that does not conform to it,
// while hstspreload only warns about a repeated directive
// (header.parse.repeated.*, a warning here too).
func (is Issues) IgnoredByBrowsers() bool {
	for _, i := range is {
		if i.Severity == SeverityError || strings.HasPrefix(i.Code, "header.parse.repeated.") {
			return true
		}
	}
	return false
}

func (is *Issues) add(sev Severity, code, fix, format string, args ...any) {
	*is = append(*is, Issue{Code: code, Severity: sev, Message: fmt.Sprintf(format, args...), Fix: fix})
}

// addOnce adds a finding unless one with the same code is present, so
// that a header repeating a directive ten times yields one finding.
func (is *Issues) addOnce(sev Severity, code, fix, format string, args ...any) {
	if !is.Has(code) {
		is.add(sev, code, fix, format, args...)
	}
}

// ParseHeader parses a Strict-Transport-Security header value by the
// syntax of RFC 6797 section 6.1 and reports syntax findings with
// hstspreload's codes, severities and order (see PreloadIssues and
// RecommendationIssues for the semantic checks):
//
//   - directives are separated by ";" and trimmed of spaces and tabs;
//   - directive names are matched ignoring the case of ASCII letters only
//     (they are tokens, RFC 6797 section 6.1), so "İncludeSubDomains"
//     (U+0130) and "includeſubdomains" (U+017F) are unknown directives;
//   - a repeated directive keeps its first value and is reported once as
//     header.parse.repeated.* with warning severity, as hstspreload does;
//     RFC 6797 has browsers ignore such a header, which
//     Issues.IgnoredByBrowsers tells;
//   - max-age takes digits only (no quotes), at most MaxSeconds.
func ParseHeader(value string) (Header, Issues) {
	var h Header
	var issues Issues
	directives := strings.Split(value, ";")
	if len(directives) == 1 && trimOWS(value) == "" {
		issues.add(SeverityWarning, "header.parse.empty", "", "the header is empty")
		return h, issues
	}
	for _, directive := range directives {
		directive = trimOWS(directive)
		switch {
		case equalFoldASCII(directive, "preload"):
			if h.Preload {
				issues.addOnce(SeverityWarning, "header.parse.repeated.preload", "",
					"the header repeats the directive preload")
			}
			h.Preload = true
		case hasPrefixFoldASCII(directive, "preload"):
			issues.addOnce(SeverityWarning, "header.parse.invalid.preload", "",
				"the header has a preload directive with extra parts: %q", directive)
		case equalFoldASCII(directive, "includeSubDomains"):
			if h.IncludeSubDomains {
				issues.addOnce(SeverityWarning, "header.parse.repeated.include_sub_domains", "",
					"the header repeats the directive includeSubDomains")
			}
			h.IncludeSubDomains = true
		case hasPrefixFoldASCII(directive, "includeSubDomains"):
			issues.addOnce(SeverityWarning, "header.parse.invalid.include_sub_domains", "",
				"the header has an includeSubDomains directive with extra parts: %q", directive)
		case hasPrefixFoldASCII(directive, "max-age="):
			seconds, ok := parseMaxAgeValue(directive[len("max-age="):], &issues)
			if !ok {
				continue
			}
			if h.MaxAge != nil {
				issues.addOnce(SeverityWarning, "header.parse.repeated.max_age", "",
					"the header repeats the directive max-age")
				continue
			}
			h.MaxAge = &seconds
		case hasPrefixFoldASCII(directive, "max-age"):
			issues.addOnce(SeverityError, "header.parse.invalid.max_age.no_value", "",
				"the header has a max-age directive without a value")
		case directive == "":
			issues.addOnce(SeverityWarning, "header.parse.empty_directive", "",
				"the header has an empty directive or an extra semicolon")
		default:
			issues.add(SeverityWarning, "header.parse.unknown_directive", "",
				"the header has an unknown directive: %q", directive)
		}
	}
	return h, issues
}

// parseMaxAgeValue parses the delta-seconds of a max-age directive. Like
// hstspreload, it does not accept the quoted form RFC 6797 allows, since no
// browser-tested deployment uses it, and it warns about a leading zero
// before it looks for other characters.
func parseMaxAgeValue(v string, issues *Issues) (int64, bool) {
	if len(v) > 1 && v[0] == '0' {
		issues.add(SeverityWarning, "header.parse.max_age.leading_zero", "",
			"the max-age value %q has a leading zero", v)
	}
	if !isDigits(v) && v != "" {
		issues.add(SeverityError, "header.parse.max_age.non_digit_characters", "",
			"the max-age value %q contains characters that are not digits", v)
		return 0, false
	}
	seconds, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		issues.add(SeverityError, "header.parse.max_age.parse_int_error", "",
			"the max-age value %q is not a number from 0 to %d", v, int64(MaxSeconds))
		return 0, false
	}
	return seconds, true
}

// trimOWS trims the optional whitespace of RFC 9110 section 5.6.3 (spaces
// and horizontal tabs) from both ends of s.
func trimOWS(s string) string { return strings.Trim(s, " \t") }

// lowerASCII folds an ASCII upper-case letter to lower case and leaves
// every other byte alone.
func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hasPrefixFoldASCII reports whether s starts with prefix, ignoring the
// case of ASCII letters only.
func hasPrefixFoldASCII(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if lowerASCII(s[i]) != lowerASCII(prefix[i]) {
			return false
		}
	}
	return true
}

// equalFoldASCII reports whether s and t are equal, ignoring the case of
// ASCII letters only.
func equalFoldASCII(s, t string) bool {
	return len(s) == len(t) && hasPrefixFoldASCII(s, t)
}
