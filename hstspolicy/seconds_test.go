package hstspolicy

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseSeconds(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Seconds
		wantErr string
	}{
		{"63072000", 63072000, ""},
		{"0", 0, ""},
		{"730d", 63072000, ""},
		{"8760h", 31536000, ""},
		{"5m", 300, ""},
		{"1d12h", 129600, ""},
		{" 300 ", 300, ""},
		{"", 0, "empty value"},
		{"2y", 0, "neither seconds"},
		{"-5m", 0, "negative"},
		{"1500ms", 0, "not a whole number of seconds"},
		{"99999999999999999999", 0, "out of range"},
		{"max-age=300", 0, "neither seconds"},
	} {
		got, err := ParseSeconds(tc.in)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("ParseSeconds(%q): %v", tc.in, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("ParseSeconds(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
		case got != tc.want:
			t.Errorf("ParseSeconds(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestSecondsJSON(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Seconds
		wantErr string
	}{
		{`31536000`, 31536000, ""}, // seconds, never nanoseconds
		{`"730d"`, 63072000, ""},
		{`"300"`, 300, ""},
		{`-1`, 0, "negative"},
		{`1.5`, 0, "not a whole number"},
		{`true`, 0, "not a whole number"},
		{`"2y"`, 0, "max_age or hold"},
	} {
		var got Seconds
		err := json.Unmarshal([]byte(tc.in), &got)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.in, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want one containing %q", tc.in, err, tc.wantErr)
		case got != tc.want:
			t.Errorf("%s = %d, want %d", tc.in, got, tc.want)
		}
	}
	out, err := json.Marshal(Seconds(300))
	if err != nil || string(out) != "300" {
		t.Errorf("Marshal(300) = %s, %v; want 300", out, err)
	}
}

func TestSecondsDurationSaturates(t *testing.T) {
	if d := Seconds(1 << 62).Duration(); d <= 0 {
		t.Errorf("huge Seconds overflowed to %v", d)
	}
}
