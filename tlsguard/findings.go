package tlsguard

import (
	"fmt"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/hardtls/caddy-hardtls/internal/finding"
)

// Severity ranks a Finding, on the scale every hardtls module reports
// with.
type Severity = finding.Severity

// Severities. In enforce mode, error findings about connection policies
// refuse the config; certificate and site findings never do, since
// certificates arrive after the config is loaded.
const (
	SeverityError   = finding.Error
	SeverityWarning = finding.Warning
	SeverityInfo    = finding.Info
)

// Finding is one thing tlsguard noticed about the config, a certificate or
// a site. Codes are stable and dotted (policy.cipher_suite.no_aead); the
// location fields that do not apply are empty.
type Finding struct {
	Severity Severity `json:"severity"`
	Code     string   `json:"code"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix,omitempty"`

	// Server is the name of the HTTP server, Policy the index of its TLS
	// connection policy (null when the finding is not about one).
	Server string `json:"server,omitempty"`
	Policy *int   `json:"policy,omitempty"`
	// Site is the host the finding is about.
	Site string `json:"site,omitempty"`
	// Certificate names the certificate: its names and SHA-256 hash.
	Certificate string `json:"certificate,omitempty"`

	// Field is the config field at fault, Value its value and Want what
	// the profile requires.
	Field string `json:"field,omitempty"`
	Value string `json:"value,omitempty"`
	Want  string `json:"want,omitempty"`
}

// Rating implements finding.Rated.
func (f Finding) Rating() (string, Severity) { return f.Code, f.Severity }

// location renders where the finding is, e.g. `server "srv0" policy 1`.
func (f Finding) location() string {
	var parts []string
	if f.Server != "" {
		parts = append(parts, fmt.Sprintf("server %q", f.Server))
	}
	if f.Policy != nil {
		parts = append(parts, fmt.Sprintf("policy %d", *f.Policy))
	}
	if f.Site != "" {
		parts = append(parts, fmt.Sprintf("site %q", f.Site))
	}
	if f.Certificate != "" {
		parts = append(parts, "certificate "+f.Certificate)
	}
	return strings.Join(parts, " ")
}

// String renders the finding on one line with its location, the field and
// value at fault, what the profile wants and the fix.
func (f Finding) String() string {
	var sb strings.Builder
	if loc := f.location(); loc != "" {
		sb.WriteString(loc)
		sb.WriteString(": ")
	}
	if f.Field != "" {
		fmt.Fprintf(&sb, "%s = %s: ", f.Field, f.Value)
	}
	sb.WriteString(f.Message)
	if f.Want != "" {
		sb.WriteString("; the profile requires ")
		sb.WriteString(f.Want)
	}
	fmt.Fprintf(&sb, " (%s)", f.Code)
	if f.Fix != "" {
		sb.WriteString("; fix: ")
		sb.WriteString(f.Fix)
	}
	return sb.String()
}

// fields returns the finding as zap fields, without the empty ones.
func (f Finding) fields() []zap.Field {
	fields := []zap.Field{zap.String("code", f.Code), zap.String("detail", f.Message)}
	add := func(key, v string) {
		if v != "" {
			fields = append(fields, zap.String(key, v))
		}
	}
	add("server", f.Server)
	if f.Policy != nil {
		fields = append(fields, zap.Int("policy", *f.Policy))
	}
	add("site", f.Site)
	add("certificate", f.Certificate)
	add("field", f.Field)
	add("value", f.Value)
	add("want", f.Want)
	add("fix", f.Fix)
	return fields
}

// level is the log level of a finding.
func (f Finding) level() zapcore.Level {
	switch f.Severity {
	case SeverityError, SeverityWarning:
		return zapcore.WarnLevel
	}
	return zapcore.InfoLevel
}

// Findings is a list of findings in the order they were found.
type Findings []Finding

// Errors returns the findings of SeverityError.
func (fs Findings) Errors() Findings { return finding.Only(fs, SeverityError) }

// count returns how many findings have the severity.
func (fs Findings) count(sev Severity) int { return finding.Count(fs, sev) }

func intPtr(i int) *int { return &i }
