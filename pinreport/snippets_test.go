package pinreport

import (
	"bytes"
	"encoding/xml"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAndroidConfigIsWellFormed(t *testing.T) {
	a, _ := adminApp(t)
	entries := a.state.inv.all()
	var buf bytes.Buffer
	if err := writeAndroid(&buf, entries, a.rules, time.Now()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName xml.Name `xml:"network-security-config"`
		Configs []struct {
			Domains []string `xml:"domain"`
			PinSet  struct {
				Expiration string `xml:"expiration,attr"`
				Pins       []struct {
					Digest string `xml:"digest,attr"`
					Value  string `xml:",chardata"`
				} `xml:"pin"`
			} `xml:"pin-set"`
		} `xml:"domain-config"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not well-formed XML: %v\n%s", err, buf.String())
	}
	if len(doc.Configs) != 2 {
		t.Fatalf("%d domain-configs, want 2", len(doc.Configs))
	}
	for _, c := range doc.Configs {
		// a.example: leaf, issuer, and the backup pin from the config;
		// *.w.example: leaf and issuer.
		want := 2
		if c.Domains[0] == "a.example" {
			want = 3
		}
		if len(c.PinSet.Pins) != want {
			t.Errorf("%v: %d pins, want %d", c.Domains, len(c.PinSet.Pins), want)
		}
		for _, p := range c.PinSet.Pins {
			if p.Digest != "SHA-256" {
				t.Errorf("digest %q", p.Digest)
			}
			if _, err := ParsePin(p.Value); err != nil {
				t.Errorf("pin %q: %v", p.Value, err)
			}
		}
	}
}

func TestXMLComment(t *testing.T) {
	if got := xmlComment("a -- b --- c"); strings.Contains(got, "--") {
		t.Errorf("xmlComment left %q", got)
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		return 0, errors.New("disk full")
	}
	w.n--
	return len(p), nil
}

func TestSnippetWriteErrors(t *testing.T) {
	a, _ := adminApp(t)
	entries := a.state.inv.all()
	now := time.Now()
	for name, write := range map[string]func(w *failingWriter) error{
		"tlsa":    func(w *failingWriter) error { return writeTLSA(w, entries, 443, "tcp", now) },
		"okhttp":  func(w *failingWriter) error { return writeOkHttp(w, entries, a.rules, now) },
		"android": func(w *failingWriter) error { return writeAndroid(w, entries, a.rules, now) },
	} {
		if err := write(&failingWriter{n: 2}); err == nil || err.Error() != "disk full" {
			t.Errorf("%s: error %v; want the writer's", name, err)
		}
	}
}
