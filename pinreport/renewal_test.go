package pinreport

import (
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"
)

func TestRenewalRatio(t *testing.T) {
	if got := renewalRatio(nil, []string{"a.example"}); got != certmagic.DefaultRenewalWindowRatio {
		t.Errorf("no policies: ratio %v", got)
	}
	policies := []*caddytls.AutomationPolicy{{RenewalWindowRatio: 0.5}}
	if got := renewalRatio(policies, []string{"a.example"}); got != 0.5 {
		t.Errorf("catch-all policy with ratio 0.5: %v", got)
	}
}
