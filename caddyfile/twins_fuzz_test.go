package caddyfile

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzCaddyfileAndJSONAgree writes the same values into a Caddyfile and
// into its JSON twin, for every subdirective of every directive and global
// option, and requires the same decision from both paths: adapt and
// caddy.Validate, against caddy.Validate of the JSON (as TestGolden). A
// value the Caddyfile refuses and the JSON accepts, or the reverse, is a
// rule one side holds and the other does not. When both refuse after the
// Caddyfile adapted, the errors must be the same text.
func FuzzCaddyfileAndJSONAgree(f *testing.F) {
	f.Setenv("XDG_DATA_HOME", f.TempDir()) // the instance ID and storage of a loaded config
	seeds := map[string][][2]string{
		"hsts max_age":                      {{"63072000", ""}, {"730d", ""}, {"-1", ""}, {"1.5", ""}, {"1e3", ""}, {"+300", ""}, {"99999999999999999999", ""}},
		"hsts argument":                     {{"300", ""}, {"1500ms", ""}},
		"hsts include_subdomains":           {{"off", ""}, {"maybe", ""}},
		"hsts ramp start":                   {{"2026-12-01T00:00:00Z", ""}, {"tomorrow", ""}},
		"hsts ramp stage":                   {{"300", "7d"}, {"0", "1"}, {"7d", "-1"}},
		"https_redirect status_code":        {{"301", ""}, {"302", ""}, {"+308", ""}, {"0308", ""}},
		"https_redirect argument":           {{"308", ""}},
		"https_redirect hosts":              {{"example.com *.example.com", ""}, {"*", ""}, {"a.example:443", ""}},
		"https_redirect canonical":          {{"example.com", "example.com www.example.com"}, {"https://example.com", "example.com"}},
		"https_redirect port":               {{"8443", ""}, {"70000", ""}, {"-1", ""}},
		"tlsguard argument":                 {{"modern", ""}, {"strict", ""}},
		"tlsguard profile":                  {{"custom", ""}, {"Modern", ""}},
		"tlsguard mode":                     {{"harden", ""}, {"block", ""}},
		"tlsguard lint_interval":            {{"5m", ""}, {"1ms", ""}, {"1y", ""}},
		"tlsguard telemetry":                {{"off", ""}, {"no", ""}},
		"tlsguard require_hsts":             {{"on", ""}, {"always", ""}},
		"tlsguard protocol_min":             {{"tls1.2", ""}, {"tls1.1", ""}},
		"tlsguard ciphers":                  {{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", ""}, {"TLS_AES_128_GCM_SHA256 TLS_FOO", ""}, {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", ""}},
		"tlsguard curves":                   {{"x25519 SECP256R1", ""}, {"x448", ""}},
		"tlsguard max_certificate_lifetime": {{"90d", ""}, {"-1h", ""}},
		"pinreport duration":                {{"30s", ""}, {"0s", ""}, {"2w", ""}},
		"pinreport pin":                     {{"example.com", "sha256/8KoXbT5we1zazoFiHhwIgWnz/ZCrQ/11wr5670bdFRc= UeEzAbzQsZRNKBB2ocgJgVtelLhma2MfMh3YlQirE1o="}, {"example.com", "sha1/AAAAAAAAAAAAAAAAAAAAAAAAAAA="}},
		"pinreport webhook":                 {{"https://alerts.example.com/hook", ""}, {"alerts.example.com/hook", ""}, {"http://", ""}},
		"pinreport webhook retries":         {{"3", ""}, {"21", ""}, {"0", ""}, {"-1", ""}},
		"pinreport webhook min_severity":    {{"info", ""}, {"error", ""}, {"loud", ""}},
		"pinreport webhook duration":        {{"5s", ""}, {"-1s", ""}},
		"fleet duration":                    {{"30s", ""}, {"100ms", ""}, {"soon", ""}},
		"fleet count":                       {{"4", ""}, {"2", ""}, {"100001", ""}},
		"fleet webhook":                     {{"https://alerts.example.com/fleet", ""}, {"ftp://alerts.example.com", ""}},
	}
	for i, fld := range agreeFields {
		for _, s := range seeds[fld.seedKey()] {
			f.Add(uint8(i), s[0], s[1])
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, a, b string) {
		fld := agreeFields[int(which)%len(agreeFields)]
		cf, twins, ok := fld.configs(a, b)
		if !ok {
			return
		}
		_, cfErr := adaptAndLoad(cf)
		for _, twin := range twins {
			jsonErr := loadJSON([]byte(twin))
			switch {
			case cfErr == nil && jsonErr != nil:
				t.Fatalf("%s: the Caddyfile is accepted and its JSON twin refused\n%s\n%s\nJSON error: %v", fld.name, cf, twin, jsonErr)
			case cfErr != nil && jsonErr == nil:
				t.Fatalf("%s: the Caddyfile is refused and its JSON twin accepted\n%s\n%s\nCaddyfile error: %v", fld.name, cf, twin, cfErr.err)
			case cfErr != nil && cfErr.atLoad && cfErr.err.Error() != jsonErr.Error():
				t.Fatalf("%s: both refused when the config loads, with different texts\n%s\n%s\nCaddyfile: %v\nJSON:      %v", fld.name, cf, twin, cfErr.err, jsonErr)
			}
		}
	})
}

// agreeField is one subdirective: how a value (a, and b for the ones that
// take two) is written in a Caddyfile and in the JSON twin.
type agreeField struct {
	name string
	// caddyfile is the Caddyfile, with %s where the value tokens go.
	caddyfile string
	// json is the JSON config, with %s where the value goes.
	json string
	// a and b say how the tokens of a and b become JSON values.
	a, b valueKind
	// zeroUnset: the JSON field is omitempty, so a value whose JSON is
	// the zero value (0, "") has no twin: JSON cannot tell it from the
	// field left out, which means the default.
	zeroUnset bool
	// matcherArg: a is a handler directive's first argument, where Caddy
	// reads "*", "/path" and "@name" as a request matcher, not a value.
	matcherArg bool
}

func (fld agreeField) seedKey() string {
	if i := strings.Index(fld.name, " ["); i >= 0 {
		return fld.name[:i]
	}
	return fld.name
}

// valueKind is how the Caddyfile's tokens of a value become its JSON.
type valueKind int

const (
	none     valueKind = iota
	text               // one token, a JSON string (durations too: caddy.Duration reads the same syntax)
	seconds            // one token, a JSON string; a plain integer also as a JSON number
	integer            // one token, a JSON number when it is a whole number (strconv.Atoi, as the parsers read it), else the string
	onOffArg           // one token: on/true, off/false, else the string
	list               // tokens separated by spaces, a JSON array of strings
)

var agreeFields = []agreeField{
	{name: "hsts max_age", caddyfile: "example.com {\n\thsts {\n\t\tmax_age %s\n\t}\n}\n", json: hstsJSON(`"max_age": %s`), a: seconds},
	{name: "hsts argument", caddyfile: "example.com {\n\thsts %s\n}\n", json: hstsJSON(`"max_age": %s`), a: seconds, matcherArg: true},
	{name: "hsts include_subdomains", caddyfile: "example.com {\n\thsts {\n\t\tinclude_subdomains %s\n\t}\n}\n", json: hstsJSON(`"include_subdomains": %s`), a: onOffArg},
	{name: "hsts ramp start", caddyfile: "example.com {\n\thsts {\n\t\tramp {\n\t\t\tstart %s\n\t\t\tstage 300\n\t\t}\n\t}\n}\n", json: hstsJSON(`"ramp": {"start": %s, "stages": [{"max_age": 300}]}`), a: text},
	{name: "hsts ramp stage", caddyfile: "example.com {\n\thsts {\n\t\tramp {\n\t\t\tstart 2026-12-01T00:00:00Z\n\t\t\tstage %s %s\n\t\t}\n\t}\n}\n", json: hstsJSON(`"ramp": {"start": "2026-12-01T00:00:00Z", "stages": [{"max_age": %s, "hold": %s}]}`), a: seconds, b: seconds},
	{name: "https_redirect status_code", caddyfile: "http://example.com {\n\thttps_redirect {\n\t\tstatus_code %s\n\t}\n}\n", json: redirectJSON(`"status_code": %s`), a: integer, zeroUnset: true},
	{name: "https_redirect argument", caddyfile: "http://example.com {\n\thttps_redirect %s\n}\n", json: redirectJSON(`"status_code": %s`), a: integer, zeroUnset: true, matcherArg: true},
	{name: "https_redirect hosts", caddyfile: "http://example.com {\n\thttps_redirect {\n\t\thosts %s\n\t}\n}\n", json: redirectJSON(`"hosts": %s`), a: list},
	{name: "https_redirect canonical", caddyfile: "http://example.com {\n\thttps_redirect {\n\t\tcanonical_host %s\n\t\thosts %s\n\t}\n}\n", json: redirectJSON(`"canonical_host": %s, "hosts": %s`), a: text, b: list, zeroUnset: true},
	{name: "https_redirect port", caddyfile: "http://example.com {\n\thttps_redirect {\n\t\tport %s\n\t}\n}\n", json: redirectJSON(`"port": %s`), a: integer, zeroUnset: true},
	{name: "tlsguard argument", caddyfile: "{\n\ttlsguard %s\n}\n", json: appJSON("tlsguard", `"profile": %s`), a: text, zeroUnset: true},
	{name: "tlsguard profile", caddyfile: "{\n\ttlsguard {\n\t\tprofile %s\n\t}\n}\n", json: appJSON("tlsguard", `"profile": %s`), a: text, zeroUnset: true},
	{name: "tlsguard mode", caddyfile: "{\n\ttlsguard {\n\t\tmode %s\n\t}\n}\n", json: appJSON("tlsguard", `"mode": %s`), a: text, zeroUnset: true},
	{name: "tlsguard lint_interval", caddyfile: "{\n\ttlsguard {\n\t\tlint_interval %s\n\t}\n}\n", json: appJSON("tlsguard", `"lint_interval": %s`), a: text},
	{name: "tlsguard telemetry", caddyfile: "{\n\ttlsguard {\n\t\ttelemetry %s\n\t}\n}\n", json: appJSON("tlsguard", `"telemetry": %s`), a: onOffArg},
	{name: "tlsguard require_hsts", caddyfile: "{\n\ttlsguard {\n\t\trequire_hsts %s\n\t}\n}\n", json: appJSON("tlsguard", `"require_hsts": %s`), a: onOffArg},
	{name: "tlsguard protocol_min", caddyfile: "{\n\ttlsguard {\n\t\tprofile custom\n\t\tprotocol_min %s\n\t\tciphers TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\n\t\tcurves x25519\n\t}\n}\n", json: appJSON("tlsguard", `"profile": "custom", "custom": {"protocol_min": %s, "cipher_suites": ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"], "curves": ["x25519"]}`), a: text, zeroUnset: true},
	{name: "tlsguard ciphers", caddyfile: "{\n\ttlsguard {\n\t\tprofile custom\n\t\tprotocol_min tls1.2\n\t\tciphers %s\n\t\tcurves x25519\n\t}\n}\n", json: appJSON("tlsguard", `"profile": "custom", "custom": {"protocol_min": "tls1.2", "cipher_suites": %s, "curves": ["x25519"]}`), a: list},
	{name: "tlsguard curves", caddyfile: "{\n\ttlsguard {\n\t\tprofile custom\n\t\tprotocol_min tls1.3\n\t\tcurves %s\n\t}\n}\n", json: appJSON("tlsguard", `"profile": "custom", "custom": {"protocol_min": "tls1.3", "curves": %s}`), a: list},
	{name: "tlsguard max_certificate_lifetime", caddyfile: "{\n\ttlsguard {\n\t\tprofile custom\n\t\tprotocol_min tls1.3\n\t\tcurves x25519\n\t\tmax_certificate_lifetime %s\n\t}\n}\n", json: appJSON("tlsguard", `"profile": "custom", "custom": {"protocol_min": "tls1.3", "curves": ["x25519"], "max_certificate_lifetime": %s}`), a: text},
	{name: "pinreport duration [scan_interval]", caddyfile: "{\n\tpinreport {\n\t\tscan_interval %s\n\t}\n}\n", json: appJSON("pinreport", `"scan_interval": %s`), a: text},
	{name: "pinreport duration [warning_before]", caddyfile: "{\n\tpinreport {\n\t\twarning_before %s\n\t}\n}\n", json: appJSON("pinreport", `"warning_before": %s`), a: text},
	{name: "pinreport duration [critical_before]", caddyfile: "{\n\tpinreport {\n\t\tcritical_before %s\n\t}\n}\n", json: appJSON("pinreport", `"critical_before": %s`), a: text},
	{name: "pinreport duration [renewal_grace]", caddyfile: "{\n\tpinreport {\n\t\trenewal_grace %s\n\t}\n}\n", json: appJSON("pinreport", `"renewal_grace": %s`), a: text},
	{name: "pinreport pin", caddyfile: "{\n\tpinreport {\n\t\tpin %s %s\n\t}\n}\n", json: appJSON("pinreport", `"pins": {%s: %s}`), a: text, b: list},
	{name: "pinreport webhook", caddyfile: "{\n\tpinreport {\n\t\twebhook %s\n\t}\n}\n", json: appJSON("pinreport", `"webhook": {"url": %s}`), a: text},
	{name: "pinreport webhook secret", caddyfile: "{\n\tpinreport {\n\t\twebhook https://alerts.example.com/hook {\n\t\t\tsecret %s\n\t\t}\n\t}\n}\n", json: appJSON("pinreport", `"webhook": {"url": "https://alerts.example.com/hook", "secret": %s}`), a: text, zeroUnset: true},
	{name: "pinreport webhook retries", caddyfile: "{\n\tpinreport {\n\t\twebhook https://alerts.example.com/hook {\n\t\t\tretries %s\n\t\t}\n\t}\n}\n", json: appJSON("pinreport", `"webhook": {"url": "https://alerts.example.com/hook", "retries": %s}`), a: integer},
	{name: "pinreport webhook min_severity", caddyfile: "{\n\tpinreport {\n\t\twebhook https://alerts.example.com/hook {\n\t\t\tmin_severity %s\n\t\t}\n\t}\n}\n", json: appJSON("pinreport", `"webhook": {"url": "https://alerts.example.com/hook", "min_severity": %s}`), a: text, zeroUnset: true},
	{name: "pinreport webhook duration [timeout]", caddyfile: "{\n\tpinreport {\n\t\twebhook https://alerts.example.com/hook {\n\t\t\ttimeout %s\n\t\t}\n\t}\n}\n", json: appJSON("pinreport", `"webhook": {"url": "https://alerts.example.com/hook", "timeout": %s}`), a: text},
	{name: "pinreport webhook duration [backoff]", caddyfile: "{\n\tpinreport {\n\t\twebhook https://alerts.example.com/hook {\n\t\t\tbackoff %s\n\t\t}\n\t}\n}\n", json: appJSON("pinreport", `"webhook": {"url": "https://alerts.example.com/hook", "backoff": %s}`), a: text},
	{name: "fleet duration [interval]", caddyfile: "{\n\tfleet {\n\t\tinterval %s\n\t}\n}\n", json: appJSON("fleet", `"interval": %s`), a: text},
	{name: "fleet duration [clock_tolerance]", caddyfile: "{\n\tfleet {\n\t\tclock_tolerance %s\n\t}\n}\n", json: appJSON("fleet", `"clock_tolerance": %s`), a: text},
	{name: "fleet duration [drift_grace]", caddyfile: "{\n\tfleet {\n\t\tdrift_grace %s\n\t}\n}\n", json: appJSON("fleet", `"drift_grace": %s`), a: text},
	{name: "fleet count [stale_after]", caddyfile: "{\n\tfleet {\n\t\tstale_after %s\n\t}\n}\n", json: appJSON("fleet", `"stale_after": %s`), a: integer, zeroUnset: true},
	{name: "fleet count [gone_after]", caddyfile: "{\n\tfleet {\n\t\tgone_after %s\n\t}\n}\n", json: appJSON("fleet", `"gone_after": %s`), a: integer, zeroUnset: true},
	{name: "fleet webhook", caddyfile: "{\n\tfleet {\n\t\twebhook %s\n\t}\n}\n", json: appJSON("fleet", `"webhook": {"url": %s}`), a: text},
	{name: "fleet webhook duration [timeout]", caddyfile: "{\n\tfleet {\n\t\twebhook https://alerts.example.com/fleet {\n\t\t\ttimeout %s\n\t\t}\n\t}\n}\n", json: appJSON("fleet", `"webhook": {"url": "https://alerts.example.com/fleet", "timeout": %s}`), a: text},
}

// hstsJSON and redirectJSON nest the handler in a subroute of the site's
// route, as the adapter does, so that an error at load names the same
// path in both configs.
func hstsJSON(fields string) string {
	return siteJSON(":443", `{"handler": "hsts", `+fields+`}`)
}

func redirectJSON(fields string) string {
	return siteJSON(":80", `{"handler": "https_redirect", `+fields+`}`)
}

func siteJSON(listen, handler string) string {
	return `{"apps": {"http": {"servers": {"srv0": {"listen": ["` + listen + `"], "routes": [{"match": [{"host": ["example.com"]}], ` +
		`"handle": [{"handler": "subroute", "routes": [{"handle": [` + handler + `]}]}], "terminal": true}]}}}}}`
}

func appJSON(app, fields string) string {
	return `{"apps": {"` + app + `": {` + fields + `}}}`
}

// configs returns the Caddyfile and its JSON twins for the values a and
// b, or false when they have no twin.
func (fld agreeField) configs(a, b string) (string, []string, bool) {
	var cfArgs []any
	jsonSets := [][]any{{}}
	for _, v := range []struct {
		kind valueKind
		s    string
	}{{fld.a, a}, {fld.b, b}} {
		if v.kind == none {
			continue
		}
		if fld.matcherArg && (v.s == "*" || strings.HasPrefix(v.s, "/") || strings.HasPrefix(v.s, "@")) {
			return "", nil, false
		}
		tokens, forms, ok := twinValue(v.kind, v.s, fld.zeroUnset)
		if !ok {
			return "", nil, false
		}
		cfArgs = append(cfArgs, tokens)
		var next [][]any
		for _, set := range jsonSets {
			for _, form := range forms {
				next = append(next, append(append([]any{}, set...), form))
			}
		}
		jsonSets = next
	}
	var twins []string
	for _, set := range jsonSets {
		twins = append(twins, fmt.Sprintf(fld.json, set...))
	}
	return fmt.Sprintf(fld.caddyfile, cfArgs...), twins, true
}

// wholeSeconds is an integer in JSON's number syntax that a JSON number
// holds exactly even
// after Caddy re-encodes a handler's JSON through float64.
var wholeSeconds = regexp.MustCompile(`^-?(0|[1-9][0-9]{0,14})$`)

// twinValue returns the Caddyfile tokens of s and its JSON forms, or false
// when s cannot be written as Caddyfile tokens that mean it or has no JSON
// twin.
func twinValue(kind valueKind, s string, zeroUnset bool) (string, []string, bool) {
	if kind == list {
		var quoted, items []string
		for _, item := range strings.Split(s, " ") {
			if item == "" {
				continue
			}
			q, ok := caddyfileToken(item)
			if !ok {
				return "", nil, false
			}
			quoted, items = append(quoted, q), append(items, item)
		}
		if len(items) == 0 {
			return "", nil, false // no names: an argument error, and [] is the field left out
		}
		raw, _ := json.Marshal(items)
		return strings.Join(quoted, " "), []string{string(raw)}, true
	}
	token, ok := caddyfileToken(s)
	if !ok {
		return "", nil, false
	}
	str, _ := json.Marshal(s)
	forms := []string{string(str)}
	switch kind {
	case seconds:
		if wholeSeconds.MatchString(s) {
			forms = append(forms, s)
		}
	case integer:
		if n, err := strconv.Atoi(s); err == nil {
			if n == 0 && zeroUnset {
				return "", nil, false
			}
			forms = []string{strconv.Itoa(n)}
		}
	case onOffArg:
		switch s {
		case "on", "true":
			forms = []string{"true"}
		case "off", "false":
			forms = []string{"false"}
		}
	}
	if s == "" && zeroUnset {
		return "", nil, false
	}
	return token, forms, true
}

// caddyfileToken writes s as one Caddyfile token: bare when the lexer
// reads it back as it is, else in backquotes (no escapes inside). Values
// with braces are left out: the Caddyfile reads {$VAR} and placeholder
// shorthands in them, which JSON does not.
func caddyfileToken(s string) (string, bool) {
	if !utf8.ValidString(s) || strings.ContainsAny(s, "{}`") {
		return "", false
	}
	if s != "" && !strings.ContainsAny(s, "\"\\#") && strings.IndexFunc(s, unicode.IsSpace) < 0 && !strings.HasPrefix(s, "<<") {
		return s, true
	}
	return "`" + s + "`", true
}
