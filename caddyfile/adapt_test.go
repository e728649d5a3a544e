package caddyfile

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

var update = flag.Bool("update", false, "rewrite the JSON of testdata/*.caddyfiletest with the adapter's output (review the diff)")

// TestGolden runs every testdata/*.caddyfiletest through both ways a user
// configures Caddy, and requires the same decision and the same message.
//
// A case is a Caddyfile, a line of dashes, then either the JSON `caddy
// adapt` must produce (the Caddyfile is accepted) or a line "ERROR: text"
// (it is refused, and its error contains text; an error of several lines,
// one per bad value, has an ERROR: line for each). A refused case may add:
//
//	JSON: text      the twin is refused by JSON's grammar (the decoder:
//	                unknown field, wrong type), not by a module's rule;
//	                its error contains text
//	DIVERGES: why   the twin is decided differently today, for a reason
//	                outside this package; the test requires that it still
//	                is, so the line goes once the cause is fixed
//
// The Caddyfile path is the adapter, then caddy.Validate of its output
// (decode, Provision, Validate: a config load without starting it). The
// JSON path is caddy.Validate of the twin: for an accepted case the JSON
// after the dashes, for a refused case testdata/<name>.json, a whole
// config that `caddy validate --config` takes as it is.
//
// The same message means:
//   - refused when the config loads (the Caddyfile adapted): both errors
//     are the same text;
//   - refused by the adapter: the Caddyfile error is Caddy's envelope
//     ("parsing caddyfile tokens for 'tlsguard': "), a message M, and
//     the position (", at Caddyfile:5"), so the Caddyfile adds only the
//     file and line; the JSON error ends with M verbatim, since M is the
//     module's message (an exported check, or the decoder's own words for
//     a duration or seconds value) and Caddy only prefixes it;
//   - refused by the Caddyfile's grammar (argument count, a
//     subdirective's name, a token that is not the field's type): M is
//     the Caddyfile's; the twin is refused too and names the same thing
//     in the JSON decoder's words, given by the JSON: line.
func TestGolden(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir()) // the instance ID and storage of a loaded config
	files, err := filepath.Glob("testdata/*.caddyfiletest")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.caddyfiletest files")
	}
	var accepted, refused int
	for _, file := range files {
		c := readGolden(t, file)
		if c.json != "" {
			accepted++
		} else {
			refused++
		}
		t.Run(c.name, func(t *testing.T) {
			setPlaceholders(t, c.input)
			adapted, cfErr := adaptAndLoad(c.input)
			if c.json != "" {
				checkAccepted(t, c, adapted, cfErr)
				return
			}
			checkRefused(t, c, cfErr)
		})
	}
	t.Logf("%d cases (%d accepted, %d refused), each on both paths", len(files), accepted, refused)
}

// golden is one testdata/*.caddyfiletest file.
type golden struct {
	file, name string
	input      string
	json       string   // the adapted JSON, for an accepted case
	err        []string // ERROR: what the Caddyfile's error contains, each
	jsonErr    string   // JSON: what the twin's error contains
	diverges   string   // DIVERGES: why the twin is decided differently
}

func readGolden(t *testing.T, file string) golden {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	input, want, ok := strings.Cut(string(raw), "\n----------\n")
	if !ok {
		t.Fatalf("%s: no ---------- separator", file)
	}
	c := golden{file: file, name: strings.TrimSuffix(filepath.Base(file), ".caddyfiletest"), input: input}
	if !strings.HasPrefix(strings.TrimSpace(want), "ERROR:") {
		c.json = want
		return c
	}
	for _, line := range strings.Split(strings.TrimSpace(want), "\n") {
		key, val, _ := strings.Cut(line, ":")
		val = strings.TrimSpace(val)
		switch key {
		case "ERROR":
			c.err = append(c.err, val)
		case "JSON":
			c.jsonErr = val
		case "DIVERGES":
			c.diverges = val
		default:
			t.Fatalf("%s: unknown line %q after the dashes; want ERROR:, JSON: or DIVERGES:", file, line)
		}
	}
	if len(c.err) == 0 || slices.Contains(c.err, "") {
		t.Fatalf("%s: empty ERROR: line", file)
	}
	return c
}

// placeholder matches the environment placeholders of a case; they are
// set, as a deployment sets them, so the config can load.
var placeholder = regexp.MustCompile(`\{env\.([A-Za-z_][A-Za-z0-9_]*)\}`)

func setPlaceholders(t *testing.T, input string) {
	for _, m := range placeholder.FindAllStringSubmatch(input, -1) {
		t.Setenv(m[1], "golden-"+strings.ToLower(m[1]))
	}
}

// caddyfileError is the error of the Caddyfile path and where it arose.
type caddyfileError struct {
	atLoad bool // the Caddyfile adapted; the config load refused it
	err    error
}

// adaptAndLoad adapts a Caddyfile, then loads its JSON without starting
// it; the error is nil when both accept.
func adaptAndLoad(input string) ([]byte, *caddyfileError) {
	adapted, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(input), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		return nil, &caddyfileError{err: err}
	}
	if err := loadJSON(adapted); err != nil {
		return adapted, &caddyfileError{atLoad: true, err: err}
	}
	return adapted, nil
}

// loadJSON decodes a JSON config as Caddy does and provisions and
// validates it, without starting it (caddy.Validate, as `caddy validate`).
func loadJSON(cfgJSON []byte) error {
	cfg := new(caddy.Config)
	if err := caddy.StrictUnmarshalJSON(cfgJSON, cfg); err != nil {
		return err
	}
	return caddy.Validate(cfg)
}

// checkAccepted: the Caddyfile adapts to the case's JSON, which loads.
// That JSON is the twin, so both paths accept the same config.
func checkAccepted(t *testing.T, c golden, adapted []byte, cfErr *caddyfileError) {
	t.Helper()
	if cfErr != nil && !cfErr.atLoad {
		t.Fatalf("adapt: %v", cfErr.err)
	}
	var got, want bytes.Buffer
	if err := json.Indent(&got, adapted, "", "\t"); err != nil {
		t.Fatal(err)
	}
	if err := json.Indent(&want, []byte(c.json), "", "\t"); err != nil {
		t.Fatalf("expected JSON in %s is invalid: %v", c.file, err)
	}
	if strings.TrimSpace(got.String()) != strings.TrimSpace(want.String()) {
		if *update {
			got.WriteByte('\n')
			if err := os.WriteFile(c.file, append([]byte(c.input+"\n----------\n"), got.Bytes()...), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("adapted JSON differs\n--- got\n%s\n--- want\n%s", got.String(), want.String())
	}
	if cfErr != nil {
		t.Errorf("the Caddyfile adapts, but its config does not load: %v", cfErr.err)
	}
	if err := loadJSON([]byte(c.json)); err != nil {
		t.Errorf("the JSON twin does not load: %v", err)
	}
}

// checkRefused: the Caddyfile is refused with the case's text, and its
// JSON twin is refused with the same message.
func checkRefused(t *testing.T, c golden, cfErr *caddyfileError) {
	t.Helper()
	if cfErr == nil {
		t.Fatalf("the Caddyfile adapts and loads; want an error containing %q", c.err)
	}
	for _, want := range c.err {
		if !strings.Contains(cfErr.err.Error(), want) {
			t.Errorf("Caddyfile error %q\ndoes not contain %q", cfErr.err, want)
		}
	}
	twin := strings.TrimSuffix(c.file, ".caddyfiletest") + ".json"
	twinJSON, err := os.ReadFile(twin)
	if err != nil {
		t.Fatalf("every refused case has a JSON twin: %v", err)
	}
	disagreement := disagree(cfErr, loadJSON(twinJSON), c.jsonErr)
	switch {
	case c.diverges == "" && disagreement != "":
		t.Errorf("%s and its JSON twin disagree: %s", c.name, disagreement)
	case c.diverges != "" && disagreement == "":
		t.Errorf("%s and its JSON twin now agree; remove the DIVERGES line (%s)", c.name, c.diverges)
	case c.diverges != "":
		t.Logf("known divergence (%s): %s", c.diverges, disagreement)
	}
}

// caddyEnvelope is what Caddy's Caddyfile adapter puts around a parser's
// message: the directive or option, and the position (nested blocks and
// imports add more of it).
var caddyEnvelope = regexp.MustCompile(`^(parsing caddyfile tokens for '[^']+': )+|(, at [^ ]+:\d+( import chain \[[^\]]*\])?)+$`)

// caddyfileMessage is the message of an adapter error without Caddy's
// envelope: what the parser itself said.
func caddyfileMessage(err error) string {
	return caddyEnvelope.ReplaceAllString(err.Error(), "")
}

// disagree says how a Caddyfile error and its twin's JSON error (nil if
// the twin loads) break the rules of TestGolden, or "" if they keep them.
// jsonErr is the JSON: line, for a grammar error.
func disagree(cf *caddyfileError, jsonErr error, grammar string) string {
	if jsonErr == nil {
		return fmt.Sprintf("the Caddyfile is refused (%v) and the JSON twin loads", cf.err)
	}
	j := jsonErr.Error()
	if cf.atLoad {
		if cf.err.Error() != j {
			return fmt.Sprintf("both refused when the config loads, with different texts:\nCaddyfile: %v\nJSON:      %s", cf.err, j)
		}
		return ""
	}
	m := caddyfileMessage(cf.err)
	switch {
	case grammar == "" && !strings.HasSuffix(j, m):
		return fmt.Sprintf("the JSON error does not end with the Caddyfile's message\nCaddyfile: %s\nJSON:      %s", m, j)
	case grammar != "" && strings.Contains(j, m):
		return fmt.Sprintf("the JSON error contains the Caddyfile's message %q: the case is not a grammar error; drop its JSON: line", m)
	case grammar != "" && !strings.Contains(j, grammar):
		return fmt.Sprintf("the JSON error %q does not contain the JSON: line's %q", j, grammar)
	}
	return ""
}
