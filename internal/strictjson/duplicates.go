package strictjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// DuplicateError is an object that names one member twice. RFC 8259
// section 4 leaves such objects to the implementation and encoding/json
// keeps the last value, so a config could say one thing and do another;
// I-JSON (RFC 7493 section 2.3) refuses them, and so does Decode.
type DuplicateError struct {
	Path string // JSON path of the repeated member, e.g. webhook.retries
}

// Error says which member is repeated and how to fix it.
func (e *DuplicateError) Error() string {
	return fmt.Sprintf("field %s given twice; keep one", strconv.Quote(e.Path))
}

// checkDuplicates returns a DuplicateError for the first object member of
// data named twice in its object, at any depth; nil when there is none
// or data is not valid JSON (the decoder reports that).
func checkDuplicates(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		object bool
		prefix string
		names  map[string]struct{}
		index  int  // next array element
		key    bool // the next token of an object is a member name
		member string
	}
	var stack []*frame
	path := func(f *frame, name string) string {
		return f.prefix + name
	}
	// enter records that a value begins in the innermost container and
	// returns the path of that value.
	enter := func() string {
		if len(stack) == 0 {
			return ""
		}
		f := stack[len(stack)-1]
		if f.object {
			f.key = true
			return path(f, f.member)
		}
		p := fmt.Sprintf("%s[%d]", f.prefix[:max(len(f.prefix)-1, 0)], f.index)
		f.index++
		return p
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // end of input, or invalid JSON
		}
		if len(stack) > 0 {
			if f := stack[len(stack)-1]; f.object && f.key {
				if name, ok := tok.(string); ok {
					if _, dup := f.names[name]; dup {
						return &DuplicateError{Path: path(f, name)}
					}
					f.names[name] = struct{}{}
					f.member, f.key = name, false
					continue
				}
			}
		}
		switch tok {
		case json.Delim('{'):
			p := enter()
			prefix := ""
			if p != "" {
				prefix = p + "."
			}
			stack = append(stack, &frame{object: true, prefix: prefix, names: map[string]struct{}{}, key: true})
		case json.Delim('['):
			p := enter()
			stack = append(stack, &frame{prefix: p + "."})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		default:
			enter()
		}
	}
}
