package pinreport

import (
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"
)

// renewalRatio returns the renewal window ratio of the automation policy
// that manages names (certmagic's default when none sets one).
func renewalRatio(policies []*caddytls.AutomationPolicy, names []string) float64 {
	var catchAll float64
	for _, ap := range policies {
		subjects := ap.Subjects()
		if len(subjects) == 0 {
			if catchAll == 0 {
				catchAll = ap.RenewalWindowRatio
			}
			continue
		}
		for _, s := range subjects {
			for _, n := range names {
				if s == n || certmagic.MatchWildcard(n, s) {
					return orDefaultRatio(ap.RenewalWindowRatio)
				}
			}
		}
	}
	return orDefaultRatio(catchAll)
}

func orDefaultRatio(r float64) float64 {
	if r <= 0 || r >= 1 {
		return certmagic.DefaultRenewalWindowRatio
	}
	return r
}
