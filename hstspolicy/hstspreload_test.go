package hstspolicy

import (
	"slices"
	"strings"
	"testing"
)

// preloadVector is one header vector of chromium/hstspreload's header
// tests (header_test.go): the header, the suite it comes from, and the
// issue codes hstspreload reports, errors and warnings each in order.
type preloadVector struct {
	suite    string // parse, parse_errors, preloadable, eligible_1_year, eligible_18_weeks, removable
	name     string // hstspreload's description
	header   string
	errors   []string
	warnings []string
	// parsed is the header hstspreload's parse vectors expect; nil when
	// the vector does not say.
	parsed *Header
}

func hdr(maxAge int64, sub, pre bool) *Header {
	h := &Header{IncludeSubDomains: sub, Preload: pre}
	if maxAge >= 0 {
		h.MaxAge = &maxAge
	}
	return h
}

// Codes, abbreviated for the table.
const (
	pEmpty       = "header.parse.empty"
	pEmptyDir    = "header.parse.empty_directive"
	pUnknown     = "header.parse.unknown_directive"
	pRepPreload  = "header.parse.repeated.preload"
	pLeadingZero = "header.parse.max_age.leading_zero"
	pNonDigit    = "header.parse.max_age.non_digit_characters"
	pParseInt    = "header.parse.max_age.parse_int_error"
	pNoValue     = "header.parse.invalid.max_age.no_value"
	qSub         = "header.preloadable.include_sub_domains.missing"
	qPreload     = "header.preloadable.preload.missing"
	qMaxAge      = "header.preloadable.max_age.missing"
	qZero        = "header.preloadable.max_age.zero"
	q1Year       = "header.preloadable.max_age.below_1_year"
	q18Weeks     = "header.preloadable.max_age.below_18_weeks"
	q10Years     = "header.preloadable.max_age.over_10_years"
	rPreload     = "header.removable.contains.preload"
	rMaxAge      = "header.removable.missing.max_age"
)

// hstspreloadVectors carries every header vector of hstspreload's
// TestParseHeaderString, TestParseHeaderStringWithErrors,
// TestPreloadableHeaderString, TestEligibleHeaderString and
// TestRemovableHeaderString (header_test.go, github.com/chromium/hstspreload),
// with the codes they expect.
var hstspreloadVectors = []preloadVector{
	{"parse", "without preload", "includeSubDomains; max-age=1337", nil, nil, hdr(1337, true, false)},
	{"parse", "without includeSubDomains", "preload; max-age=1337", nil, nil, hdr(1337, false, true)},
	{"parse", "without max-age", "preload; includeSubDomains", nil, nil, hdr(-1, true, true)},
	{"parse", "full", "max-age=31536000; includeSubDomains; preload", nil, nil, hdr(31536000, true, true)},
	{"parse", "any order", "includeSubDomains; preload; max-age=4321", nil, nil, hdr(4321, true, true)},
	{"parse", "extra whitespace", "   max-age=10886400  ;     includeSubDomains    ;     preload      ", nil, nil, hdr(10886400, true, true)},
	{"parse", "larger max-age", "includeSubDomains; preload; max-age=12345678", nil, nil, hdr(12345678, true, true)},
	{"parse", "reordered", "max-age=10886400; preload; includeSubDomains", nil, nil, hdr(10886400, true, true)},
	{"parse", "reordered, without preload", "max-age=10886400; includeSubDomains", nil, nil, hdr(10886400, true, false)},
	{"parse", "case-insensitive", "inCLUDESUBDomaINs; max-AGe=12345678", nil, nil, hdr(12345678, true, false)},
	{"parse", "empty", "", nil, []string{pEmpty}, hdr(-1, false, false)},
	{"parse", "repeated preload", "preload; includeSubDomains; preload; max-age=12345678; preload", nil, []string{pRepPreload}, hdr(12345678, true, true)},
	{"parse", "single extra directive", "includeSubDomains; max-age=12345678; preload; extraDirective", nil, []string{pUnknown}, hdr(12345678, true, true)},
	{"parse", "multiple extra directives", "max-age=12345678; extra; includeSubDomains; directives; preload", nil, []string{pUnknown, pUnknown}, hdr(12345678, true, true)},
	{"parse", "semicolon only", ";", nil, []string{pEmptyDir}, hdr(-1, false, false)},
	{"parse", "trailing semicolon", "max-age=10886400; includeSubDomains; preload;", nil, []string{pEmptyDir}, hdr(10886400, true, true)},
	{"parse", "prefixed by semicolon", "; max-age=10886400; includeSubDomains; preload", nil, []string{pEmptyDir}, hdr(10886400, true, true)},
	{"parse", "bad max-age: leading 0", "max-age=01234", nil, []string{pLeadingZero}, hdr(1234, false, false)},

	{"parse_errors", "bad max-age: empty value", "max-age=", []string{pParseInt}, nil, nil},
	{"parse_errors", "bad max-age: no value", "max-age", []string{pNoValue}, nil, nil},
	{"parse_errors", "max-age: minus", "max-age=-101", []string{pNonDigit}, nil, nil},
	{"parse_errors", "max-age: plus", "max-age=+101", []string{pNonDigit}, nil, nil},
	{"parse_errors", "error and warning: no max-age value, trailing semicolon", "max-age;", []string{pNoValue}, []string{pEmptyDir}, nil},
	{"parse_errors", "error and warnings: no max-age value, unknown directive, trailing semicolon", "includeDomains; max-age;", []string{pNoValue}, []string{pUnknown, pEmptyDir}, nil},

	{"preloadable", "no issues", "max-age=31536000; includeSubDomains; preload", nil, nil, nil},
	{"preloadable", "max-age > 10 years", "max-age=315360001; preload; includeSubDomains", nil, []string{q10Years}, nil},
	{"preloadable", "empty", "", []string{qSub, qPreload, qMaxAge}, []string{pEmpty}, nil},
	{"preloadable", "missing preload", "includeSubDomains; max-age=31536000", []string{qPreload}, nil, nil},
	{"preloadable", "missing includeSubdomains", "preload; max-age=31536000", []string{qSub}, nil, nil},
	{"preloadable", "missing max-age", "includeSubDomains; preload", []string{qMaxAge}, nil, nil},
	{"preloadable", "only preload", "preload", []string{qSub, qMaxAge}, nil, nil},
	{"preloadable", "only includeSubdomains", "includeSubDomains", []string{qPreload, qMaxAge}, nil, nil},
	{"preloadable", "only max-age", "max-age=123456789", []string{qSub, qPreload}, nil, nil},
	{"preloadable", "max-age without value", "includeSubDomains; preload; max-age", []string{pNoValue, qMaxAge}, nil, nil},
	{"preloadable", "maxAge=0", "includeSubDomains; preload; max-age=0", []string{qZero}, nil, nil},
	{"preloadable", "maxAge=100", "includeSubDomains; preload; max-age=100", []string{q1Year}, nil, nil},
	{"preloadable", "maxAge=10886400", "includeSubDomains; preload; max-age=10886400", []string{q1Year}, nil, nil},
	{"preloadable", "missing preload, >10 years", "max-age=315360001; includeSubDomains", []string{qPreload}, []string{q10Years}, nil},

	{"eligible_1_year", "no issues, policy: 1 year", "max-age=31536000; includeSubDomains; preload", nil, nil, nil},
	{"eligible_18_weeks", "no issues, policy: 18 weeks", "max-age=10886400; includeSubDomains; preload", nil, nil, nil},
	{"eligible_1_year", "max-age > 10 years, policy: 1 year", "max-age=315360001; preload; includeSubDomains", nil, []string{q10Years}, nil},
	{"eligible_18_weeks", "max-age > 10 years, policy: 18 weeks", "max-age=315360001; preload; includeSubDomains", nil, []string{q10Years}, nil},
	{"eligible_1_year", "empty, policy: 1 year", "", []string{qSub, qPreload, qMaxAge}, []string{pEmpty}, nil},
	{"eligible_18_weeks", "empty, policy: 18 weeks", "", []string{qSub, qPreload, qMaxAge}, []string{pEmpty}, nil},
	{"eligible_1_year", "max-age without value, policy: 1 year", "includeSubDomains; preload; max-age", []string{pNoValue, qMaxAge}, nil, nil},
	{"eligible_18_weeks", "max-age without value, policy: 18 weeks", "includeSubDomains; preload; max-age", []string{pNoValue, qMaxAge}, nil, nil},
	{"eligible_1_year", "maxAge=0, policy: 1 year", "includeSubDomains; preload; max-age=0", []string{qZero}, nil, nil},
	{"eligible_18_weeks", "maxAge=0, policy: 18 weeks", "includeSubDomains; preload; max-age=0", []string{qZero}, nil, nil},
	{"eligible_1_year", "maxAge=100, policy: 1 year", "includeSubDomains; preload; max-age=100", []string{q1Year}, nil, nil},
	{"eligible_18_weeks", "maxAge=100, policy: 18 weeks", "includeSubDomains; preload; max-age=100", []string{q18Weeks}, nil, nil},
	{"eligible_1_year", "maxAge=10886400, policy: 1 year", "includeSubDomains; preload; max-age=10886400", []string{q1Year}, nil, nil},
	{"eligible_1_year", "missing preload, >10 years, policy: 1 year", "max-age=315360001; includeSubDomains", []string{qPreload}, []string{q10Years}, nil},
	{"eligible_18_weeks", "missing preload, >10 years, policy: 18 weeks", "max-age=315360001; includeSubDomains", []string{qPreload}, []string{q10Years}, nil},

	{"removable", "max-age only", "max-age=315360001", nil, nil, nil},
	{"removable", "max-age=0", "max-age=0", nil, nil, nil},
	{"removable", "max-age and includeSubDomains", "max-age=315360001; includeSubDomains", nil, nil, nil},
	{"removable", "includeSubDomains only", "includeSubDomains", []string{rMaxAge}, nil, nil},
	{"removable", "max-age missing", "includeSubDomains", []string{rMaxAge}, nil, nil},
	{"removable", "empty header", "includeSubDomains", []string{rMaxAge}, nil, nil},
	{"removable", "preload present", "max-age=315360001; includeSubDomains; preload", []string{rPreload}, nil, nil},
	{"removable", "preload only", "preload", []string{rPreload, rMaxAge}, nil, nil},
}

// check runs a vector's header through the function of its suite.
func (v preloadVector) check() (Header, Issues) {
	h, parsed := ParseHeader(v.header)
	switch v.suite {
	case "parse", "parse_errors":
		return h, parsed
	case "preloadable", "eligible_1_year":
		return h, CheckPreloadable(v.header)
	case "eligible_18_weeks":
		return h, append(parsed, preloadIssues(h, bulk18Weeks)...)
	case "removable":
		return h, CheckRemovable(v.header)
	}
	panic("unknown suite " + v.suite)
}

func issueCodes(is Issues) []string {
	var out []string
	for _, i := range is {
		out = append(out, i.Code)
	}
	return out
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// TestHstspreloadVectors reproduces, for every header vector of
// hstspreload's tests, its error codes and its warning codes, each as a
// set and in its order, and the parsed header where the vector gives one.
func TestHstspreloadVectors(t *testing.T) {
	var sets, orders int
	for _, v := range hstspreloadVectors {
		t.Run(v.suite+"/"+v.name, func(t *testing.T) {
			h, issues := v.check()
			asSet, inOrder := true, true
			for _, kind := range []struct {
				name      string
				got, want []string
			}{
				{"errors", issueCodes(issues.Errors()), v.errors},
				{"warnings", issueCodes(issues.Warnings()), v.warnings},
			} {
				if !slices.Equal(sortedCopy(kind.got), sortedCopy(kind.want)) {
					asSet = false
					t.Errorf("%q: %s %v, hstspreload %v", v.header, kind.name, kind.got, kind.want)
				}
				if !slices.Equal(kind.got, kind.want) {
					inOrder = false
					t.Errorf("%q: %s in the order %v, hstspreload %v", v.header, kind.name, kind.got, kind.want)
				}
			}
			if v.parsed != nil && h.String() != v.parsed.String() {
				asSet, inOrder = false, false
				t.Errorf("%q parsed as %q, hstspreload %q", v.header, h.String(), v.parsed.String())
			}
			if asSet {
				sets++
			}
			if inOrder {
				orders++
			}
		})
	}
	// hstspreload's direct PreloadableHeader test, on a header value.
	t.Run("preloadable/missing preload and more than ten years", func(t *testing.T) {
		issues := PreloadIssues(*hdr(315360001, true, false))
		if got := issueCodes(issues.Errors()); !slices.Equal(got, []string{qPreload}) {
			t.Errorf("errors %v", got)
		}
		if got := issueCodes(issues.Warnings()); !slices.Equal(got, []string{q10Years}) {
			t.Errorf("warnings %v", got)
		}
		if !t.Failed() {
			sets++
			orders++
		}
	})
	const total = 62
	if n := len(hstspreloadVectors) + 1; n != total {
		t.Errorf("%d vectors, want hstspreload's %d", n, total)
	}
	t.Logf("hstspreload vectors holding: %d/%d as sets, %d/%d in order", sets, total, orders, total)
}

// TestHstspreloadDifferences pins the inputs on which hstspolicy departs
// from hstspreload on purpose (docs/hsts.md lists why), with what
// hstspreload's ParseHeaderString and PreloadableHeaderString report on
// them beside what hstspolicy does.
func TestHstspreloadDifferences(t *testing.T) {
	for _, tc := range []struct {
		name, header string
		ours         []string // parse codes, then preload codes, errors before warnings
		hstspreload  []string
	}{
		// Directive names fold ASCII letters only: U+0130 and U+017F
		// fold to i and s under Unicode rules, not in a token.
		{"dotted_capital_i", "İncludeSubDomains; max-age=31536000; preload",
			[]string{qSub, pUnknown},
			[]string{qSub, "header.parse.invalid.include_sub_domains"}},
		{"long_s", "includeſubdomains; max-age=31536000; preload",
			[]string{qSub, pUnknown},
			nil},
		{"kelvin_sign", "max-age=31536000; includeSubDomains; pre\u212Aload",
			[]string{qPreload, pUnknown},
			[]string{qPreload, pUnknown}},
		// Whitespace: spaces and tabs (RFC 9110 OWS), not every Unicode space.
		{"vertical_tab", "max-age=31536000\v; includeSubDomains; preload",
			[]string{pNonDigit, qMaxAge},
			nil},
		{"no_break_space", "max-age=31536000;\u00a0includeSubDomains; preload",
			[]string{qSub, pUnknown},
			nil},
		// max-age is a 63-bit count.
		{"max_age_2_pow_63", "max-age=9223372036854775808; includeSubDomains; preload",
			[]string{pParseInt, qMaxAge},
			[]string{q10Years}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			issues := CheckPreloadable(tc.header)
			got := append(issueCodes(issues.Errors()), issueCodes(issues.Warnings())...)
			if !slices.Equal(got, tc.ours) {
				t.Errorf("%q: %v, want %v", tc.header, got, tc.ours)
			}
			if slices.Equal(tc.ours, tc.hstspreload) && !strings.Contains(tc.name, "kelvin") {
				t.Errorf("listed as a difference but hstspreload agrees")
			}
		})
	}
}

// TestIgnoredByBrowsers separates what RFC 6797 has browsers drop from
// what hstspreload only warns about.
func TestIgnoredByBrowsers(t *testing.T) {
	for value, want := range map[string]bool{
		"max-age=300; includeSubDomains":                    false,
		"max-age=300; foo":                                  false, // unknown directives are ignored, section 6.1
		"max-age=300; max-age=600":                          true,  // section 6.1 item 3
		"max-age=300; preload; preload":                     true,
		"max-age=300; includeSubDomains; includeSubDomains": true,
		"max-age=12a":                                       true,
		"max-age":                                           true,
	} {
		_, issues := ParseHeader(value)
		if got := issues.IgnoredByBrowsers(); got != want {
			t.Errorf("%q: IgnoredByBrowsers = %v, want %v (%v)", value, got, want, issueCodes(issues))
		}
	}
}
