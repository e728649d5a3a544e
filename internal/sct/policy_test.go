package sct

import (
	"strings"
	"testing"
	"time"

	"github.com/hardtls/caddy-hardtls/internal/testpki"
)

func TestChromePolicy(t *testing.T) {
	ca := testpki.NewCA(t, "SCT test CA", nil)
	const day = 24 * time.Hour
	a, b, c := sctBytes(logA, t0), sctBytes(logB, t0), sctBytes(logC, t0)
	tests := []struct {
		name      string
		lifetime  time.Duration
		embedded  [][]byte // nil: no extension
		tls       [][]byte
		internal  bool
		compliant bool
		required  int
		message   string // a part of the message
	}{
		{"90 days, 2 logs", 90 * day, [][]byte{a, b}, nil, false, true, 2, "embedded SCTs from 2 distinct logs; Chrome requires 2 for a lifetime of 90 days"},
		{"180 days exactly, 2 logs", 180 * day, [][]byte{a, b}, nil, false, true, 2, "requires 2"},
		{"90 days, 1 log", 90 * day, [][]byte{a}, nil, false, false, 2, "1 embedded SCT from 1 distinct log and no TLS-delivered SCTs"},
		{"90 days, same log twice", 90 * day, [][]byte{a, a}, nil, false, false, 2, "2 embedded SCTs from 1 distinct log (1 repeat a log already counted)"},
		{"181 days, 2 logs", 181 * day, [][]byte{a, b}, nil, false, false, 3, "at least 3 distinct logs for a lifetime of 181 days (over 180 days: 3 logs)"},
		{"181 days, 3 logs", 181 * day, [][]byte{a, b, c}, nil, false, true, 3, "from 3 distinct logs"},
		{"398 days, 3 logs with a repeat", 398 * day, [][]byte{a, b, b}, nil, false, false, 3, "3 embedded SCTs from 2 distinct logs"},
		{"no SCTs", 90 * day, nil, nil, false, false, 2, "no embedded SCTs and no TLS-delivered SCTs"},
		{"TLS extension, 2 logs", 398 * day, nil, [][]byte{a, b}, false, true, 3, "SCTs from 2 distinct logs in the TLS extension"},
		{"TLS extension, 1 log twice", 90 * day, nil, [][]byte{a, a}, false, false, 2, "2 TLS-delivered SCTs from 1 distinct log"},
		// The policy text sets separate criteria per delivery; one of each
		// meets neither.
		{"1 embedded + 1 TLS", 90 * day, [][]byte{a}, [][]byte{b}, false, false, 2, "1 embedded SCT from 1 distinct log and 1 TLS-delivered SCT"},
		{"internal CA", 398 * day, nil, nil, true, true, 3, "issued by an internal CA"},
		{"malformed list", 90 * day, [][]byte{a, {1}}, nil, false, false, 2, "; 1 SCT problems: embedded SCT list: SCT 1: SCT version 1 is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf := testpki.Leaf{Names: []string{"ct.example"}, Lifetime: tt.lifetime}
			var cert = ca.Issue(t, leaf)
			if tt.embedded != nil {
				cert = ca.IssueWith(t, leaf, testpki.WithSCTList(testpki.SCTList(tt.embedded...)))
			}
			v := ChromePolicy(cert.Leaf, Inspect(cert.Leaf, tt.tls), tt.internal)
			if v.Compliant != tt.compliant || v.Required != tt.required || v.Exempt != tt.internal {
				t.Errorf("compliant %v required %d exempt %v; want %v %d %v (%s)", v.Compliant, v.Required, v.Exempt, tt.compliant, tt.required, tt.internal, v.Message)
			}
			if !strings.Contains(v.Message, tt.message) {
				t.Errorf("message = %q\nwant it to contain %q", v.Message, tt.message)
			}
			if tt.compliant != (v.Code == "") || tt.compliant != (v.Fix == "") {
				t.Errorf("code %q fix %q for compliant = %v", v.Code, v.Fix, v.Compliant)
			}
			if !tt.compliant && v.Code != CodeTooFewSCTs {
				t.Errorf("code = %q", v.Code)
			}
		})
	}
}
