package hstspolicy

import (
	"strings"
	"testing"
)

func ptr[T any](v T) *T { return &v }

func TestHeaderString(t *testing.T) {
	for _, tc := range []struct {
		h    Header
		want string
	}{
		{Header{MaxAge: ptr[int64](63072000), IncludeSubDomains: true}, "max-age=63072000; includeSubDomains"},
		{Header{MaxAge: ptr[int64](31536000), IncludeSubDomains: true, Preload: true}, "max-age=31536000; includeSubDomains; preload"},
		{Header{MaxAge: ptr[int64](0)}, "max-age=0"},
		{Header{IncludeSubDomains: true}, "includeSubDomains"},
	} {
		if got := tc.h.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.h, got, tc.want)
		}
		if tc.h.MaxAge == nil {
			continue
		}
		parsed, issues := ParseHeader(tc.want)
		if len(issues) != 0 || parsed.String() != tc.want {
			t.Errorf("ParseHeader(%q) = %+v, %v; want a round trip without issues", tc.want, parsed, issues)
		}
	}
}

func TestParseHeader(t *testing.T) {
	for _, tc := range []struct {
		name   string
		value  string
		maxAge int64 // -1: absent
		sub    bool
		pre    bool
		codes  []string
	}{
		{"canonical", "max-age=63072000; includeSubDomains; preload", 63072000, true, true, nil},
		{"case_insensitive", "MAX-AGE=300;INCLUDESUBDOMAINS;Preload", 300, true, true, nil},
		{"no_spaces", "max-age=300;includeSubDomains", 300, true, false, nil},
		{"tabs", "max-age=300\t;\tpreload", 300, false, true, nil},
		{"empty", "", -1, false, false, []string{"header.parse.empty"}},
		{"spaces_only", "   ", -1, false, false, []string{"header.parse.empty"}},
		{"repeated_max_age", "max-age=1; max-age=2", 1, false, false, []string{"header.parse.repeated.max_age"}},
		{"repeated_sub", "max-age=1; includeSubDomains; includeSubDomains; includeSubDomains", 1, true, false, []string{"header.parse.repeated.include_sub_domains"}},
		{"repeated_preload", "max-age=1; preload; preload", 1, false, true, []string{"header.parse.repeated.preload"}},
		{"non_digit", "max-age=12a", -1, false, false, []string{"header.parse.max_age.non_digit_characters"}},
		{"negative", "max-age=-5", -1, false, false, []string{"header.parse.max_age.non_digit_characters"}},
		{"quoted", `max-age="300"`, -1, false, false, []string{"header.parse.max_age.non_digit_characters"}},
		{"empty_value", "max-age=", -1, false, false, []string{"header.parse.max_age.parse_int_error"}},
		{"no_equals", "max-age", -1, false, false, []string{"header.parse.invalid.max_age.no_value"}},
		{"leading_zero", "max-age=0300", 300, false, false, []string{"header.parse.max_age.leading_zero"}},
		{"overflow", "max-age=99999999999999999999", -1, false, false, []string{"header.parse.max_age.parse_int_error"}},
		{"trailing_semicolon", "max-age=300;", 300, false, false, []string{"header.parse.empty_directive"}},
		{"unknown", "max-age=300; foo=bar", 300, false, false, []string{"header.parse.unknown_directive"}},
		{"preload_extra", "max-age=300; preload=yes", 300, false, false, []string{"header.parse.invalid.preload"}},
		{"sub_extra", "max-age=300; includeSubDomains=true", 300, false, false, []string{"header.parse.invalid.include_sub_domains"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, issues := ParseHeader(tc.value)
			switch {
			case tc.maxAge < 0 && h.MaxAge != nil:
				t.Errorf("max-age = %d, want absent", *h.MaxAge)
			case tc.maxAge >= 0 && (h.MaxAge == nil || *h.MaxAge != tc.maxAge):
				t.Errorf("max-age = %v, want %d", h.MaxAge, tc.maxAge)
			}
			if h.IncludeSubDomains != tc.sub || h.Preload != tc.pre {
				t.Errorf("includeSubDomains, preload = %v, %v; want %v, %v", h.IncludeSubDomains, h.Preload, tc.sub, tc.pre)
			}
			var codes []string
			for _, is := range issues {
				codes = append(codes, is.Code)
			}
			if strings.Join(codes, ",") != strings.Join(tc.codes, ",") {
				t.Errorf("issue codes = %v, want %v", codes, tc.codes)
			}
		})
	}
}

func TestPreloadIssues(t *testing.T) {
	for _, tc := range []struct {
		value  string
		errors []string
		warns  []string
	}{
		{"max-age=31536000; includeSubDomains; preload", nil, nil},
		{"max-age=63072000; includeSubDomains; preload", nil, nil},
		{"max-age=31535999; includeSubDomains; preload", []string{"header.preloadable.max_age.below_1_year"}, nil},
		{"max-age=0; includeSubDomains; preload", []string{"header.preloadable.max_age.zero"}, nil},
		{"max-age=31536000; preload", []string{"header.preloadable.include_sub_domains.missing"}, nil},
		{"max-age=31536000; includeSubDomains", []string{"header.preloadable.preload.missing"}, nil},
		{"includeSubDomains; preload", []string{"header.preloadable.max_age.missing"}, nil},
		{"max-age=315360001; includeSubDomains; preload", nil, []string{"header.preloadable.max_age.over_10_years"}},
	} {
		h, _ := ParseHeader(tc.value)
		issues := PreloadIssues(h)
		if got := codes(issues.Errors()); got != strings.Join(tc.errors, ",") {
			t.Errorf("%q: errors %s, want %v", tc.value, got, tc.errors)
		}
		if got := codes(issues.Warnings()); got != strings.Join(tc.warns, ",") {
			t.Errorf("%q: warnings %s, want %v", tc.value, got, tc.warns)
		}
		for _, is := range issues {
			if is.Fix == "" || is.Message == "" {
				t.Errorf("%q: issue %s has no message or fix", tc.value, is.Code)
			}
		}
	}
}

func TestRecommendationIssues(t *testing.T) {
	for _, tc := range []struct {
		maxAge *int64
		want   string
	}{
		{nil, "header.recommendation.max_age.missing"},
		{ptr[int64](0), "header.recommendation.max_age.zero"},
		{ptr[int64](EighteenWeeks - 1), "header.recommendation.max_age.below_18_weeks"},
		{ptr[int64](EighteenWeeks), ""},
		{ptr[int64](TwoYears), ""},
		{ptr[int64](TenYears + 1), "header.recommendation.max_age.over_10_years"},
	} {
		if got := codes(RecommendationIssues(Header{MaxAge: tc.maxAge})); got != tc.want {
			t.Errorf("max-age %v: %q, want %q", tc.maxAge, got, tc.want)
		}
	}
}

func codes(is Issues) string {
	var out []string
	for _, i := range is {
		out = append(out, i.Code)
	}
	return strings.Join(out, ",")
}
