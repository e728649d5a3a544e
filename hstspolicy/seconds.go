package hstspolicy

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/hardtls/caddy-hardtls/internal/strictjson"
)

// Seconds is a whole number of seconds, the unit of HSTS max-age. In JSON
// it is an integer number of seconds (63072000) or a string: either digits
// ("63072000", seconds) or Caddy's duration syntax ("730d", "8760h", "5m").
//
// A plain integer means seconds, not nanoseconds as for caddy.Duration:
// "max_age": 31536000 must never turn into 31 milliseconds.
type Seconds int64

// MaxSeconds is the largest Seconds value, 2^63-1: max-age is kept as a
// signed 64-bit count, as Header.MaxAge and Go's time arithmetic keep it.
const MaxSeconds = 1<<63 - 1

// secondsFix is what a seconds value should look like.
const secondsFix = "write seconds (63072000) or a duration with a unit s, m, h or d (730d)"

// ParseSeconds parses s as digits (seconds) or Caddy's duration syntax.
// The result must be a whole, non-negative number of seconds no larger
// than MaxSeconds. Errors are *strictjson.FieldError without a field: the caller
// names it with InField.
func ParseSeconds(s string) (Seconds, error) {
	fail := func(why, fix string) (Seconds, error) {
		return 0, &strictjson.FieldError{Value: strconv.Quote(s), Why: why, Fix: fix}
	}
	v := strings.TrimSpace(s)
	switch {
	case v == "":
		return fail("empty value", secondsFix)
	case v[0] == '-':
		return fail("is negative", "write zero or more seconds; 0 tells browsers to forget the policy")
	case isDigits(v):
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fail("is out of range: the largest value is "+strconv.FormatInt(MaxSeconds, 10)+" seconds",
				"use at most 315360000 (10 years); 63072000 (2 years) is usual")
		}
		return Seconds(n), nil
	}
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		// 1.5, 1e3, +300: a number, but not whole seconds in digits.
		return fail("is not a whole number of seconds written in digits", secondsFix)
	}
	d, err := caddy.ParseDuration(v)
	if err != nil {
		return fail("is neither seconds nor a duration ("+err.Error()+")", secondsFix)
	}
	if d%time.Second != 0 {
		return fail("is not a whole number of seconds", "round it to whole seconds, e.g. "+strconv.FormatInt(int64(d.Round(time.Second)/time.Second), 10))
	}
	return Seconds(d / time.Second), nil
}

// UnmarshalJSON satisfies json.Unmarshaler. A number and a string are read
// by ParseSeconds alike, so `-5` and `"-5"` give the same error.
func (s *Seconds) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	text := string(b)
	switch {
	case text == "null":
		return nil
	case len(b) > 0 && b[0] == '"':
		if err := json.Unmarshal(b, &text); err != nil {
			return err
		}
	case len(b) == 0 || b[0] != '-' && (b[0] < '0' || b[0] > '9'):
		return &strictjson.FieldError{Value: text, Why: "is neither a number nor a string", Fix: secondsFix}
	}
	v, err := ParseSeconds(text)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Duration converts s to a time.Duration, saturating instead of overflowing.
func (s Seconds) Duration() time.Duration {
	const maxSeconds = int64(1<<63-1) / int64(time.Second)
	if int64(s) > maxSeconds {
		return time.Duration(1<<63 - 1)
	}
	return time.Duration(s) * time.Second
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
