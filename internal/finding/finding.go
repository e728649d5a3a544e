// Package finding is hardtls's one vocabulary for what its modules find:
// a single Severity scale shared by hstspolicy's header issues, tlsguard's
// findings and pinreport's and fleet's alerts, and the list helpers they
// all use, so that "error" or "warning" means the same thing in every
// report, log line and webhook body.
package finding

import (
	"fmt"
	"strings"
)

// Severity ranks a finding, lowest first. Its text form ("info",
// "warning", "error", "critical") is what reports, logs and webhooks show.
type Severity uint8

// Severities, lowest first.
const (
	// Info is worth knowing and needs no action (a certificate renewed).
	Info Severity = iota
	// Warning is legal but unwise, or needs action before long.
	Warning
	// Error makes a setting unusable: a header browsers ignore, a
	// connection policy the profile refuses.
	Error
	// Critical needs action now: a certificate expiring, expired or
	// revoked, a pin that no longer matches.
	Critical
	numSeverities
)

var names = [numSeverities]string{"info", "warning", "error", "critical"}

// All returns every severity, lowest first.
func All() []Severity { return []Severity{Info, Warning, Error, Critical} }

// String returns the severity's name.
func (s Severity) String() string {
	if s < numSeverities {
		return names[s]
	}
	return fmt.Sprintf("severity(%d)", uint8(s))
}

// MarshalText implements encoding.TextMarshaler: JSON shows the name.
func (s Severity) MarshalText() ([]byte, error) {
	if s >= numSeverities {
		return nil, fmt.Errorf("severity %d is out of range", uint8(s))
	}
	return []byte(names[s]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Parse reads a severity name, as written in a config: exact and lower
// case.
func Parse(name string) (Severity, error) {
	for i, n := range names {
		if n == name {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("%q is not a severity; want %s", name, strings.Join(names[:], ", "))
}

// Rated is a finding of any hardtls package: it has a stable dotted code
// and a severity.
type Rated interface {
	Rating() (code string, sev Severity)
}

// Only returns the findings of exactly severity sev, in order.
func Only[L ~[]T, T Rated](list L, sev Severity) L {
	var out L
	for _, f := range list {
		if _, s := f.Rating(); s == sev {
			out = append(out, f)
		}
	}
	return out
}

// Count returns how many findings have severity sev.
func Count[L ~[]T, T Rated](list L, sev Severity) int {
	n := 0
	for _, f := range list {
		if _, s := f.Rating(); s == sev {
			n++
		}
	}
	return n
}

// Has reports whether a finding with the code is in the list.
func Has[L ~[]T, T Rated](list L, code string) bool {
	for _, f := range list {
		if c, _ := f.Rating(); c == code {
			return true
		}
	}
	return false
}
