// Package strictjson decodes a module's JSON config the way Caddy does
// (caddy.StrictUnmarshalJSON: unknown fields are refused), with errors that
// name the field at fault by its JSON name. A value whose type decodes
// itself, such as caddy.Duration, fails with its own error ("time: invalid
// duration "soon"") and encoding/json does not say which field held it; a
// value of the wrong type is named by its Go struct field and Go type;
// Decode finds the field and says "lint_interval = "soon": ..." or
// "flag = "yes": a JSON string where true or false is wanted".
package strictjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// Decode decodes data into v, a pointer to a struct, refusing unknown
// fields and a member named twice in one object (see DuplicateError). A
// value that does not decode is reported with its field's JSON path, the
// value and, for durations, the fix.
func Decode(data []byte, v any) error {
	err := caddy.StrictUnmarshalJSON(data, v)
	if err == nil {
		if dup := checkDuplicates(data); dup != nil {
			return dup
		}
		return nil
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return err // the JSON is broken: no field to name
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field == "" {
		// The whole config is of the wrong type; encoding/json would name
		// the module's Go type, which means nothing to the user.
		return fmt.Errorf("the config is a JSON %s; want a JSON object", typeErr.Value)
	}
	// A value of the wrong type, or one its type refuses: encoding/json
	// names the field by its Go struct (or not at all), so find it by
	// its JSON name.
	if fe := findField(data, reflect.TypeOf(v), ""); fe != nil {
		return fe
	}
	return err
}

// FieldError is a refused value of one config field, the one shape of
// such errors in hardtls: its text reads `field = value: why; fix: how`,
// the same whether the value came from JSON or from the Caddyfile, whose
// parsers call the modules' own parsers and checks and only add the file
// and line.
type FieldError struct {
	// Field is the JSON path of the field, such as "lint_interval" or
	// "ramp.stages[1].hold"; empty until a caller that knows the path sets
	// it with InField.
	Field string
	// Value is the refused value as the error shows it: text in double
	// quotes with Go escapes ("-5m"), numbers and JSON bare (600).
	Value string
	// Why says what is wrong with the value.
	Why string
	// Fix says what to write instead; empty when the reason says it.
	Fix string
}

// Error renders the error as "field = value: why; fix: how".
func (e *FieldError) Error() string {
	var sb strings.Builder
	if e.Field != "" {
		sb.WriteString(e.Field)
		sb.WriteString(" = ")
	}
	sb.WriteString(e.Value)
	sb.WriteString(": ")
	sb.WriteString(e.Why)
	if e.Fix != "" {
		sb.WriteString("; fix: ")
		sb.WriteString(e.Fix)
	}
	return sb.String()
}

// InField returns err with field prepended to its path when err is a
// *FieldError ("stages[1]" and "hold" make "stages[1].hold"), and err
// unchanged otherwise.
func InField(field string, err error) error {
	var fe *FieldError
	if !errors.As(err, &fe) {
		return err
	}
	out := *fe
	switch {
	case out.Field == "":
		out.Field = field
	case strings.HasPrefix(out.Field, "["):
		out.Field = field + out.Field
	default:
		out.Field = field + "." + out.Field
	}
	return &out
}

// Within places err inside the config object field: a *FieldError gets
// field prepended to its path (InField: "webhook" and "url" make
// "webhook.url = ..."), any other error reads "field: err".
func Within(field string, err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		return InField(field, err)
	}
	return fmt.Errorf("%s: %w", field, err)
}

// CheckHTTPURL is the rule of every URL field that hardtls fetches or posts
// to (a webhook, a CRL): absolute, http or https, with a host. example is
// a URL of the field's kind, shown in the fix; a URL without a scheme is
// fixed with the example's.
func CheckHTTPURL(s, example string) error {
	fe := &FieldError{Field: "url", Value: strconv.Quote(s), Fix: "write a URL such as " + example}
	u, err := url.Parse(s)
	switch {
	case s == "":
		fe.Why, fe.Fix = "is required", "set it, such as "+example
	case err != nil:
		fe.Why = err.Error()
	case u.Scheme != "http" && u.Scheme != "https":
		scheme, _, _ := strings.Cut(example, "://")
		fe.Why, fe.Fix = "has no http:// or https:// scheme", "write it as "+scheme+"://"+strings.TrimPrefix(s, u.Scheme+"://")
	case u.Host == "":
		fe.Why = "has no host"
	default:
		return nil
	}
	return fe
}

var durationType = reflect.TypeFor[caddy.Duration]()

// DurationValue is a refused duration as a FieldError shows it: the JSON
// string Caddy accepts for it, such as "-5m0s".
func DurationValue[D ~int64](d D) string { return strconv.Quote(time.Duration(d).String()) }

// durationFix is the fix of a duration that does not parse.
const durationFix = "write a duration such as 90s, 10m or 14d"

// ParseDuration parses a duration in Caddy's syntax (caddy.ParseDuration:
// Go's units and d for days) for the field at path, failing with the error
// Decode gives for the same value in JSON. Configuration adapters call it
// so that a Caddyfile and its JSON get the same message.
func ParseDuration(path, value string) (caddy.Duration, error) {
	d, err := caddy.ParseDuration(value)
	if err != nil {
		return 0, &FieldError{Field: path, Value: strconv.Quote(value), Why: err.Error(), Fix: durationFix}
	}
	return caddy.Duration(d), nil
}

// findField decodes each field of the object in data on its own, into the
// field's type from t (a struct or a pointer to one), and returns the first
// that fails, descending into nested objects.
func findField(data []byte, t reflect.Type, prefix string) *FieldError {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) != nil {
		return nil
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" {
			// An embedded struct's fields are the object's own, as
			// encoding/json decodes them.
			if fe := findField(data, f.Type, prefix); fe != nil {
				return fe
			}
			continue
		}
		raw, ok := obj[name]
		if !f.IsExported() || name == "" || name == "-" || !ok {
			continue
		}
		if nested := findField(raw, f.Type, prefix+name+"."); nested != nil {
			return nested
		}
		err := caddy.StrictUnmarshalJSON(raw, reflect.New(f.Type).Interface())
		if err == nil {
			continue
		}
		fe := &FieldError{Field: prefix + name, Value: string(raw), Why: err.Error()}
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			// encoding/json names the Go type ("cannot unmarshal string
			// into Go value of type pinreport.IssuerCRL"); say it in JSON.
			fe.Why = fmt.Sprintf("a JSON %s where %s is wanted", typeErr.Value, jsonKind(typeErr.Type))
		}
		if ft := f.Type; ft == durationType || (ft.Kind() == reflect.Pointer && ft.Elem() == durationType) {
			fe.Fix = durationFix
		}
		return fe
	}
	return nil
}

// jsonKind names what JSON value decodes into a Go value of type t.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "another type"
}
