package hstspolicy

import (
	"errors"
	"strings"
)

// ConfigError is a refused value of one config field. Its text reads
// `field = value: why; fix: how`, the same whether the value came from
// JSON or from the Caddyfile, which calls the same parsers and checks and
// only adds the file and line.
type ConfigError struct {
	// Field is the JSON path of the field, such as "max_age" or
	// "ramp.stages[1].hold"; empty until a caller that knows the path
	// sets it with InField.
	Field string
	// Value is the refused value as the error shows it: text in double
	// quotes with Go escapes ("-5m"), numbers bare (600).
	Value string
	// Why says what is wrong with the value.
	Why string
	// Fix says what to write instead.
	Fix string
}

func (e *ConfigError) Error() string {
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
// *ConfigError ("stages[0]" and "hold" make "stages[0].hold"), and err
// unchanged otherwise.
func InField(field string, err error) error {
	var ce *ConfigError
	if !errors.As(err, &ce) {
		return err
	}
	out := *ce
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
