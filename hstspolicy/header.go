package hstspolicy

import (
	"fmt"
	"strconv"
	"strings"
)

// Limits used by the preload rules (hstspreload.org, "bulk-1-year" policy)
// and by RFC 6797's recommendations.
const (
	// OneYear is the smallest max-age hstspreload.org accepts with preload.
	OneYear = 365 * 24 * 60 * 60
	// EighteenWeeks is hstspreload.org's former minimum; shorter values are
	// legal but protect little, so they earn a warning.
	EighteenWeeks = 126 * 24 * 60 * 60
	// TenYears is the point past which hstspreload.org calls a max-age unusual.
	TenYears = 10 * OneYear
	// TwoYears is the max-age Mozilla's Server Side TLS guidelines recommend,
	// and the default of the hsts handler.
	TwoYears = 2 * OneYear
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
// or only unwise (SeverityWarning).
type Severity string

// Severities of issues.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Issue is one finding about an HSTS header. Codes follow the naming of
// github.com/chromium/hstspreload (e.g. header.preloadable.max_age.below_1_year)
// so that they can be looked up against hstspreload.org's messages; codes the
// library does not have use the same style under header.recommendation.*.
type Issue struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	// Fix tells the operator what to change; empty for parse findings on
	// headers hardtls did not write.
	Fix string `json:"fix,omitempty"`
}

func (i Issue) String() string {
	s := i.Message + " (" + i.Code + ")"
	if i.Fix != "" {
		s += "; " + i.Fix
	}
	return s
}

// Issues is a list of findings, in the order they were found.
type Issues []Issue

// Errors returns only the findings of SeverityError.
func (is Issues) Errors() Issues { return is.filter(SeverityError) }

// Warnings returns only the findings of SeverityWarning.
func (is Issues) Warnings() Issues { return is.filter(SeverityWarning) }

func (is Issues) filter(sev Severity) Issues {
	var out Issues
	for _, i := range is {
		if i.Severity == sev {
			out = append(out, i)
		}
	}
	return out
}

// Has reports whether a finding with the given code is present.
func (is Issues) Has(code string) bool {
	for _, i := range is {
		if i.Code == code {
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

// ParseHeader parses a Strict-Transport-Security header value by the syntax
// of RFC 6797 section 6.1: directive names are case-insensitive, directives
// are separated by ";", a repeated directive makes the header invalid
// (section 6.1: "directives MUST NOT appear more than once"). ParseHeader
// reports syntax findings only; see PreloadIssues and RecommendationIssues
// for the semantic checks.
func ParseHeader(value string) (Header, Issues) {
	var h Header
	var issues Issues
	if strings.TrimSpace(value) == "" {
		issues.add(SeverityWarning, "header.parse.empty", "", "the header is empty")
		return h, issues
	}
	for _, directive := range strings.Split(value, ";") {
		directive = strings.Trim(directive, " \t")
		lower := strings.ToLower(directive)
		switch {
		case lower == "preload":
			if h.Preload {
				issues.addOnce(SeverityWarning, "header.parse.repeated.preload", "",
					"the header repeats the directive preload")
			}
			h.Preload = true
		case strings.HasPrefix(lower, "preload"):
			issues.addOnce(SeverityWarning, "header.parse.invalid.preload", "",
				"the header has a preload directive with extra parts: %q", directive)
		case lower == "includesubdomains":
			if h.IncludeSubDomains {
				issues.addOnce(SeverityWarning, "header.parse.repeated.include_sub_domains", "",
					"the header repeats the directive includeSubDomains")
			}
			h.IncludeSubDomains = true
		case strings.HasPrefix(lower, "includesubdomains"):
			issues.addOnce(SeverityWarning, "header.parse.invalid.include_sub_domains", "",
				"the header has an includeSubDomains directive with extra parts: %q", directive)
		case strings.HasPrefix(lower, "max-age="):
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
		case strings.HasPrefix(lower, "max-age"):
			issues.addOnce(SeverityError, "header.parse.invalid.max_age.no_value", "",
				"the header has a max-age directive without a value")
		case lower == "":
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
// browser-tested deployment uses it.
func parseMaxAgeValue(v string, issues *Issues) (int64, bool) {
	if v == "" {
		issues.addOnce(SeverityError, "header.parse.invalid.max_age.no_value", "",
			"the header has a max-age directive without a value")
		return 0, false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			issues.add(SeverityError, "header.parse.max_age.non_digit_characters", "",
				"the max-age value %q contains characters that are not digits", v)
			return 0, false
		}
	}
	if len(v) > 1 && v[0] == '0' {
		issues.add(SeverityWarning, "header.parse.max_age.leading_zero", "",
			"the max-age value %q has a leading zero", v)
	}
	seconds, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		issues.add(SeverityError, "header.parse.max_age.parse_int_error", "",
			"the max-age value %q is not a 63-bit number", v)
		return 0, false
	}
	return seconds, true
}

// PreloadIssues checks h against hstspreload.org's submission requirements
// (the "bulk-1-year" policy): preload present, includeSubDomains present,
// max-age of at least one year. A max-age over ten years is a warning.
func PreloadIssues(h Header) Issues {
	var issues Issues
	if !h.Preload {
		issues.add(SeverityError, "header.preloadable.preload.missing",
			"add preload", "the header lacks the preload directive")
	}
	if !h.IncludeSubDomains {
		issues.add(SeverityError, "header.preloadable.include_sub_domains.missing",
			"turn include_subdomains on, after checking every subdomain serves HTTPS",
			"the header lacks includeSubDomains, which preloading requires")
	}
	switch {
	case h.MaxAge == nil:
		issues.add(SeverityError, "header.preloadable.max_age.missing",
			"set max_age to at least 31536000 (1 year)", "the header lacks max-age")
	case *h.MaxAge == 0:
		issues.add(SeverityError, "header.preloadable.max_age.zero",
			"max_age 0 removes HSTS; drop preload, or set max_age to at least 31536000 (1 year)",
			"max-age=0 cannot be preloaded; it tells browsers to forget the policy")
	case *h.MaxAge < OneYear:
		issues.add(SeverityError, "header.preloadable.max_age.below_1_year",
			"set max_age to at least 31536000 (1 year), or remove preload",
			"max-age=%d is below 1 year (31536000 s), the minimum hstspreload.org accepts", *h.MaxAge)
	case *h.MaxAge > TenYears:
		issues.add(SeverityWarning, "header.preloadable.max_age.over_10_years",
			"2 years (63072000) is the usual value",
			"max-age=%d is over 10 years, an unusually long value", *h.MaxAge)
	}
	return issues
}

// RecommendationIssues flags legal values that are risky in practice:
// max-age=0 (the removal switch of RFC 6797 section 6.1.1), max-ages under
// 18 weeks that protect little, and over 10 years.
func RecommendationIssues(h Header) Issues {
	var issues Issues
	switch {
	case h.MaxAge == nil:
		issues.add(SeverityError, "header.recommendation.max_age.missing",
			"set max_age", "the header lacks max-age, which RFC 6797 requires")
	case *h.MaxAge == 0:
		issues.add(SeverityWarning, "header.recommendation.max_age.zero",
			"keep max_age 0 only while withdrawing HSTS; set a positive max_age to enable it",
			"max-age=0 tells browsers to delete their HSTS policy for this host")
	case *h.MaxAge < EighteenWeeks:
		issues.add(SeverityWarning, "header.recommendation.max_age.below_18_weeks",
			"raise max_age towards 63072000 (2 years) once HTTPS works everywhere, or use a ramp",
			"max-age=%d is below 18 weeks (10886400 s) and protects returning visitors only briefly", *h.MaxAge)
	case *h.MaxAge > TenYears:
		issues.add(SeverityWarning, "header.recommendation.max_age.over_10_years",
			"2 years (63072000) is the usual value",
			"max-age=%d is over 10 years, an unusually long value", *h.MaxAge)
	}
	return issues
}
