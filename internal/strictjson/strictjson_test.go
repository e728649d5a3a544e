package strictjson

import (
	"encoding/json"
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
		{`{"flag": "yes"}`, `flag = "yes": a JSON string where true or false is wanted`},
		{`{"inner": {"names": "a"}}`, `inner.names = "a": a JSON string where an array is wanted`},
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
	if !errors.As(err, &fe) || fe.Field != "interval" || fe.Value != `"soon"` {
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

func TestDuplicateNames(t *testing.T) {
	for _, tc := range []struct{ in, path string }{
		{`{"interval": "1m", "interval": "2m"}`, "interval"},
		{`{"inner": {"lifetime": "1h", "names": ["a"], "lifetime": "2h"}}`, "inner.lifetime"},
		{`{"inner": {"names": ["a", "b"]}, "flag": true, "flag": false}`, "flag"},
		{`{"inner": {"names": []}, "inner": {}}`, "inner"},
		{`{"interval": "1m", "inner": {"lifetime": "1h"}, "flag": true}`, ""},
		// The same name in different objects is no duplicate.
		{`{"inner": {"lifetime": "1h"}, "interval": "1h"}`, ""},
	} {
		var v outer
		err := Decode([]byte(tc.in), &v)
		var de *DuplicateError
		switch {
		case tc.path == "" && err != nil:
			t.Errorf("%s: %v", tc.in, err)
		case tc.path != "" && (!errors.As(err, &de) || de.Path != tc.path):
			t.Errorf("%s: error %v, want a duplicate at %s", tc.in, err, tc.path)
		}
	}
	var v outer
	if err := Decode([]byte(`{"flag": true, "flag": true}`), &v); err == nil || err.Error() != `field "flag" given twice; keep one` {
		t.Errorf("message: %v", err)
	}
}

func TestDuplicatesInArrays(t *testing.T) {
	var v struct {
		List []struct {
			A int `json:"a"`
		} `json:"list"`
	}
	err := Decode([]byte(`{"list": [{"a": 1}, {"a": 2, "a": 3}]}`), &v)
	var de *DuplicateError
	if !errors.As(err, &de) || de.Path != "list[1].a" {
		t.Errorf("error %v, want a duplicate at list[1].a", err)
	}
}

func TestNotAnObject(t *testing.T) {
	type plain outer // as the modules decode: no Go type name may leak
	for in, want := range map[string]string{
		`"on"`: "the config is a JSON string; want a JSON object",
		`[1]`:  "the config is a JSON array; want a JSON object",
		`12`:   "the config is a JSON number; want a JSON object",
		`true`: "the config is a JSON bool; want a JSON object",
	} {
		var v plain
		if err := Decode([]byte(in), &v); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}

// TestEmbedded: the fields of an embedded struct are named as the object's
// own, without the Go type a module decodes through.
func TestEmbedded(t *testing.T) {
	type plain outer
	var v struct {
		*plain
		Extra json.RawMessage `json:"extra"`
	}
	v.plain = new(plain)
	err := Decode([]byte(`{"flag": "maybe", "extra": 1}`), &v)
	if err == nil || err.Error() != `flag = "maybe": a JSON string where true or false is wanted` {
		t.Errorf("error %v", err)
	}
}
