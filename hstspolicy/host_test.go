package hstspolicy

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeHost(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" means refused
	}{
		{"example.com", "example.com"},
		{"Example.COM", "example.com"},
		{"example.com.", "example.com"},
		{"example.com:8080", "example.com"},
		{"localhost", "localhost"},
		{"127.0.0.1", "127.0.0.1"},
		{"127.0.0.1:80", "127.0.0.1"},
		{"[::1]", "[::1]"},
		{"[::1]:443", "[::1]"},
		{"[2001:DB8::0:1]", "[2001:db8::1]"},
		{"bücher.example", "xn--bcher-kva.example"},
		{"BÜCHER.example", "xn--bcher-kva.example"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"a-b.example", "a-b.example"},
		{"", ""},
		{".", ""},
		{"example.com..", ""},
		{".example.com", ""},
		{"a..example.com", ""},
		{"-a.example.com", ""},
		{"a-.example.com", ""},
		{"a_b.example.com", ""},
		{"user@example.com", ""},
		{"example.com@evil.com", ""},
		{"evil.com\\example.com", ""},
		{"example.com/evil", ""},
		{"example.com%2f", ""},
		{"example.com\r\nX: y", ""},
		{"example.com\x00", ""},
		{"exa mple.com", ""},
		{"example.com:", ""},
		{"example.com:0", ""},
		{"example.com:65536", ""},
		{"example.com:+80", ""},
		{"example.com:080080", ""},
		{"example.com:80:80", ""},
		{"[::1", ""},
		{"[::1]x", ""},
		{"[::1]:", ""},
		{"[fe80::1%25eth0]", ""},
		{"[127.0.0.1]", ""},
		{"::1", ""},
		{"127.1", ""},
		{"0x7f.0.0.1", ""},
		{"2130706433", ""},
		{"1.2.3.4.5", ""},
		{"*.example.com", ""},
		{strings.Repeat("a", 64) + ".com", ""},
		{strings.Repeat("a.", 127) + "com", ""},
		{"\xff.example", ""},
	} {
		got, err := NormalizeHost(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("NormalizeHost(%q) = %q, want refused", tc.in, got)
			} else if !errors.Is(err, ErrHostInvalid) && !errors.Is(err, ErrHostEmpty) {
				t.Errorf("NormalizeHost(%q) error %v is neither ErrHostInvalid nor ErrHostEmpty", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizeHost(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestHostList(t *testing.T) {
	hl, err := ParseHostList([]string{"Example.com", "*.tenant.example", "::1", "10.0.0.1", "bücher.example."})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"example.com":           true,
		"www.example.com":       false,
		"a.tenant.example":      true,
		"tenant.example":        false,
		"a.b.tenant.example":    false,
		"[::1]":                 true,
		"10.0.0.1":              true,
		"xn--bcher-kva.example": true,
		"evil.example":          false,
	} {
		if got := hl.Allows(host); got != want {
			t.Errorf("Allows(%q) = %v, want %v", host, got, want)
		}
	}
	if hl.Len() != 5 {
		t.Errorf("Len() = %d, want 5", hl.Len())
	}
	for _, bad := range []string{"*", "*.com", "a.*.example", "ex*ample.com", "example.com/x", "https://example.com", "*.", "", "example.com:443", "[::1]:443", "10.0.0.1:80"} {
		if _, err := ParseHostList([]string{"ok.example", bad}); err == nil || !strings.Contains(err.Error(), "hosts[1]") {
			t.Errorf("ParseHostList(%q) error = %v, want one naming hosts[1]", bad, err)
		}
	}
}
