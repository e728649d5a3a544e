package hstspolicy

// Limits used by the preload rules (hstspreload.org, "bulk-1-year" policy)
// and by RFC 6797's recommendations.
const (
	// OneYear is the smallest max-age hstspreload.org accepts with preload.
	OneYear = 365 * 24 * 60 * 60
	// EighteenWeeks is hstspreload.org's former minimum ("bulk-18-weeks",
	// still applied to domains preloaded under it); shorter values are
	// legal but protect little, so they earn a warning.
	EighteenWeeks = 18 * 7 * 24 * 60 * 60
	// TenYears is the point past which hstspreload.org calls a max-age unusual.
	TenYears = 10 * OneYear
	// TwoYears is the max-age Mozilla's Server Side TLS guidelines recommend,
	// and the default of the hsts handler.
	TwoYears = 2 * OneYear
)

// preloadPolicy is one of hstspreload.org's submission policies: the
// shortest max-age it accepts and the code of a shorter one.
type preloadPolicy struct {
	minMaxAge int64
	name      string
	belowCode string
}

var (
	bulk1Year   = preloadPolicy{OneYear, "1 year", "header.preloadable.max_age.below_1_year"}
	bulk18Weeks = preloadPolicy{EighteenWeeks, "18 weeks", "header.preloadable.max_age.below_18_weeks"}
)

// PreloadIssues checks h against hstspreload.org's submission requirements
// for new entries (the "bulk-1-year" policy), in hstspreload's order:
// includeSubDomains present, preload present, max-age of at least one
// year. A max-age over ten years is a warning.
func PreloadIssues(h Header) Issues { return preloadIssues(h, bulk1Year) }

func preloadIssues(h Header, policy preloadPolicy) Issues {
	var issues Issues
	if !h.IncludeSubDomains {
		issues.add(SeverityError, "header.preloadable.include_sub_domains.missing",
			"turn include_subdomains on, after checking every subdomain serves HTTPS",
			"the header lacks includeSubDomains, which preloading requires")
	}
	if !h.Preload {
		issues.add(SeverityError, "header.preloadable.preload.missing",
			"add preload", "the header lacks the preload directive")
	}
	switch {
	case h.MaxAge == nil:
		issues.add(SeverityError, "header.preloadable.max_age.missing",
			"set max_age to at least 31536000 (1 year)", "the header lacks max-age")
	case *h.MaxAge == 0:
		issues.add(SeverityError, "header.preloadable.max_age.zero",
			"max_age 0 removes HSTS; drop preload, or set max_age to at least 31536000 (1 year)",
			"max-age=0 cannot be preloaded; it tells browsers to forget the policy")
	case *h.MaxAge < policy.minMaxAge:
		issues.add(SeverityError, policy.belowCode,
			"set max_age to at least 31536000 (1 year), or remove preload",
			"max-age=%d is below %s (%d s), the minimum hstspreload.org accepts", *h.MaxAge, policy.name, policy.minMaxAge)
	case *h.MaxAge > TenYears:
		issues.add(SeverityWarning, "header.preloadable.max_age.over_10_years",
			"2 years (63072000) is the usual value",
			"max-age=%d is over 10 years, an unusually long value", *h.MaxAge)
	}
	return issues
}

// RemovableIssues checks h against hstspreload.org's requirements for a
// site asking to leave the preload list (hstspreload.org/removal): the
// header must keep a max-age and must not carry preload.
func RemovableIssues(h Header) Issues {
	var issues Issues
	if h.Preload {
		issues.add(SeverityError, "header.removable.contains.preload",
			"drop preload from the hsts handler",
			"the header still carries preload, which asks to stay on the list")
	}
	if h.MaxAge == nil {
		issues.add(SeverityError, "header.removable.missing.max_age",
			"set max_age", "the header lacks max-age")
	}
	return issues
}

// CheckPreloadable parses value and checks it for preloading, as
// hstspreload's PreloadableHeaderString does: every parse finding, then
// the PreloadIssues of the parsed header.
func CheckPreloadable(value string) Issues {
	h, issues := ParseHeader(value)
	return append(issues, PreloadIssues(h)...)
}

// CheckRemovable parses value and checks it for removal from the preload
// list, as hstspreload's RemovableHeaderString does: the parse errors
// (parse warnings do not stand in the way of a removal), then the
// RemovableIssues of the parsed header.
func CheckRemovable(value string) Issues {
	h, issues := ParseHeader(value)
	return append(issues.Errors(), RemovableIssues(h)...)
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
