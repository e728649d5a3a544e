package hstspolicy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// Seconds is a whole number of seconds, the unit of HSTS max-age. In JSON
// it is an integer number of seconds (63072000) or a string: either digits
// ("63072000", seconds) or Caddy's duration syntax ("730d", "8760h", "5m").
//
// A plain integer means seconds, not nanoseconds as for caddy.Duration:
// "max_age": 31536000 must never turn into 31 milliseconds.
type Seconds int64

// ParseSeconds parses s as digits (seconds) or Caddy's duration syntax.
// The result must be a whole, non-negative number of seconds.
func ParseSeconds(s string) (Seconds, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty value; want seconds (63072000) or a duration (730d)")
	}
	if isDigits(s) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is out of range", s)
		}
		return Seconds(n), nil
	}
	d, err := caddy.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither seconds (63072000) nor a duration (730d, 8760h): %v", s, err)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative; want zero or more seconds", s)
	}
	if d%time.Second != 0 {
		return 0, fmt.Errorf("%q is not a whole number of seconds", s)
	}
	return Seconds(d / time.Second), nil
}

// UnmarshalJSON satisfies json.Unmarshaler.
func (s *Seconds) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		v, err := ParseSeconds(str)
		if err != nil {
			return fmt.Errorf("max_age or hold: %v", err)
		}
		*s = v
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("max_age or hold: %s is not a whole number of seconds or a duration string such as \"730d\"", b)
	}
	if n < 0 {
		return fmt.Errorf("max_age or hold: %d is negative; want zero or more seconds", n)
	}
	*s = Seconds(n)
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
