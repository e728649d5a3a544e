package hstspolicy

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
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
		{"9223372036854775807", MaxSeconds, ""},
		{"", 0, `"": empty value; fix: write seconds`},
		{"2y", 0, `"2y": is neither seconds nor a duration (time: unknown unit "y" in duration "2y"); fix: write seconds (63072000) or a duration`},
		{"-5", 0, `"-5": is negative; fix: write zero or more seconds`},
		{"-5m", 0, `"-5m": is negative; fix: write zero or more seconds`},
		{"1500ms", 0, `"1500ms": is not a whole number of seconds; fix: round it to whole seconds, e.g. 2`},
		{"1.5", 0, `"1.5": is not a whole number of seconds written in digits`},
		{"1e3", 0, `"1e3": is not a whole number of seconds written in digits`},
		{"99999999999999999999", 0, `"99999999999999999999": is out of range: the largest value is 9223372036854775807 seconds; fix: use at most 315360000`},
		{"9223372036854775808", 0, "is out of range"},
		{"max-age=300", 0, "is neither seconds nor a duration"},
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
		{`null`, 0, ""},
		{`-1`, 0, `"-1": is negative`},
		{`"-1"`, 0, `"-1": is negative`},
		{`1.5`, 0, `"1.5": is not a whole number of seconds`},
		{`99999999999999999999`, 0, `"99999999999999999999": is out of range`},
		{`true`, 0, "true: is neither a number nor a string; fix: write seconds"},
		{`"2y"`, 0, `"2y": is neither seconds nor a duration`},
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

// TestHandlerJSON decodes handler configs: fields named by their path in
// errors, unknown fields refused at every level, and a round trip that
// keeps every field (the decoders list the fields of Ramp and Stage).
func TestHandlerJSON(t *testing.T) {
	for _, tc := range []struct {
		in, wantErr string
	}{
		{`{"max_age": -5}`, `max_age = "-5": is negative`},
		{`{"max_age": "-5"}`, `max_age = "-5": is negative`},
		{`{"ramp": {"stages": [{"max_age": 300}, {"max_age": 600, "hold": "1.5"}]}}`, `ramp.stages[1].hold = "1.5": is not a whole number of seconds`},
		{`{"ramp": {"stages": [{"max_age": "5y"}]}}`, `ramp.stages[0].max_age = "5y": is neither seconds nor a duration`},
		{`{"ramp": {"start": "tomorrow"}}`, `ramp.start = "tomorrow": is not an RFC 3339 time`},
		{`{"ramp": {"start": 5}}`, `ramp.start = 5: is not a string`},
		{`{"maxage": 300}`, `unknown field "maxage"`},
		{`{"ramp": {"stages": [], "begin": "x"}}`, `unknown field "begin"`},
		{`{"ramp": {"stages": [{"max_age": 300, "holds": 600}]}}`, `unknown field "holds"`},
		{`{"include_subdomains": "yes"}`, "a JSON string where true or false is wanted"},
	} {
		var h Handler
		err := json.Unmarshal([]byte(tc.in), &h)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want one containing %q", tc.in, err, tc.wantErr)
		}
	}

	maxAge, off := Seconds(600), false
	in := Handler{MaxAge: &maxAge, IncludeSubdomains: &off, Preload: true, Ramp: &Ramp{
		Start:  time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		Stages: []Stage{{MaxAge: 60}, {MaxAge: 300, Hold: 900}},
	}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Handler
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	b2, _ := json.Marshal(out)
	if string(b) != string(b2) || *out.MaxAge != 600 || *out.IncludeSubdomains || !out.Preload || len(out.Ramp.Stages) != 2 || out.Ramp.Stages[1].Hold != 900 {
		t.Errorf("round trip %s → %s", b, b2)
	}
}
