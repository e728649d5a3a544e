package strictjson

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

type inner struct {
	Lifetime caddy.Duration `json:"lifetime,omitempty"`
	Names    []string       `json:"names,omitempty"`
}

type outer struct {
	Interval caddy.Duration `json:"interval,omitempty"`
	Flag     *bool          `json:"flag,omitempty"`
	Inner    *inner         `json:"inner,omitempty"`
	hidden   int
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{`{"interval": "10m", "inner": {"lifetime": "90d"}}`, ""},
		{`{"interval": "soon"}`, `interval = "soon": time: invalid duration "soon"; fix: write a duration such as 90s, 10m or 14d`},
		{`{"inner": {"lifetime": "x", "names": ["a"]}}`, `inner.lifetime = "x": time: invalid duration "x"; fix:`},
		{`{"flag": "yes"}`, `flag = "yes": json: cannot unmarshal string into Go value of type bool`},
		{`{"inner": {"names": "a"}}`, `inner.names = "a": json: cannot unmarshal string into Go value of type []string`},
		{`{"intervall": "10m"}`, `unknown field "intervall"`},
		{`{"inner": {"lifetim": "1h"}}`, `unknown field "lifetim"`},
		{`{"interval": `, "unexpected EOF"},
	} {
		var v outer
		err := Decode([]byte(tc.in), &v)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.in, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want %q", tc.in, err, tc.want)
		}
	}
	var v outer
	err := Decode([]byte(`{"interval": "soon"}`), &v)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "interval" || fe.Value != `"soon"` {
		t.Errorf("FieldError %+v", fe)
	}
	_ = v.hidden
}

// TestParseDurationSameAsJSON: an adapter's duration error is the one the
// JSON config gets for the same value.
func TestParseDurationSameAsJSON(t *testing.T) {
	for _, v := range []string{"soon", "2y", "10", "1h30x"} {
		var o outer
		jsonErr := Decode([]byte(`{"interval": "`+v+`"}`), &o)
		_, err := ParseDuration("interval", v)
		if err == nil || jsonErr == nil || err.Error() != jsonErr.Error() {
			t.Errorf("%q: adapter %v, JSON %v", v, err, jsonErr)
		}
	}
	if d, err := ParseDuration("interval", "14d"); err != nil || d != caddy.Duration(14*24*time.Hour) {
		t.Errorf("14d: %v %v", d, err)
	}
}
