package pinreport

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hardtls/caddy-hardtls/internal/certs"
)

// Known answers for testdata/pin.example.pem, a certificate made with the
// openssl CLI (not Go), computed with:
//
//	openssl x509 -in pin.example.pem -pubkey -noout | openssl pkey -pubin -outform der \
//	  | openssl dgst -sha256 -binary | base64         (pin)
//	... | openssl dgst -sha256 -hex                    (TLSA data)
//	openssl x509 -in pin.example.pem -noout -fingerprint -sha256 -serial
const (
	knownPin         = "6M4Ozjg1m7cJM77L97/i30GF2/cv6hEMsIt+rcr2HkA="
	knownPinHex      = "e8ce0ece38359bb70933becbf7bfe2df4185dbf72fea110cb08b7eadcaf61e40"
	knownFingerprint = "895080182a17eab998174bc17aeb946270263f75064a58858bf2639fa2616f84"
	knownSerial      = "73326030DD76E413161BAE7F721DA0F54B044A21"
)

func readPEMCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("no PEM in %s", file)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestPinKnownAnswers(t *testing.T) {
	cert := readPEMCert(t, "testdata/pin.example.pem")
	p := SPKIPin(cert)
	if p.String() != knownPin {
		t.Errorf("pin %s, openssl says %s", p, knownPin)
	}
	if p.OkHttp() != "sha256/"+knownPin {
		t.Errorf("OkHttp form %s", p.OkHttp())
	}
	if got, want := p.TLSA(tlsaDANEEE), "3 1 1 "+knownPinHex; got != want {
		t.Errorf("TLSA %q, want %q", got, want)
	}
	if got, want := p.TLSA(tlsaDANETA), "2 1 1 "+knownPinHex; got != want {
		t.Errorf("TLSA %q, want %q", got, want)
	}
	if got := certs.SerialHex(cert); got != knownSerial {
		t.Errorf("serial %s, openssl says %s", got, knownSerial)
	}
}

// TestPinMatchesOpenSSL compares the pins of freshly made keys of each
// type with the openssl CLI's.
func TestPinMatchesOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl CLI not installed")
	}
	ca := newTestCA(t, "openssl")
	now := time.Now()
	for _, cert := range []*x509.Certificate{
		ca.root, ca.inter,
		ca.leaf(t, []string{"a.example"}, now, now.Add(time.Hour), nil).Leaf,
		ca.leaf(t, []string{"b.example"}, now, now.Add(time.Hour), rsaKey(t)).Leaf,
		ca.leaf(t, []string{"c.example"}, now, now.Add(time.Hour), ed25519Key(t)).Leaf,
	} {
		pub := runOpenSSL(t, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), "x509", "-pubkey", "-noout")
		der := runOpenSSL(t, pub, "pkey", "-pubin", "-outform", "der")
		digest := runOpenSSL(t, der, "dgst", "-sha256", "-binary")
		if want := base64.StdEncoding.EncodeToString(digest); SPKIPin(cert).String() != want {
			t.Errorf("%s (%s): pin %s, openssl says %s", cert.Subject, cert.PublicKeyAlgorithm, SPKIPin(cert), want)
		}
	}
}

func runOpenSSL(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Stdin = strings.NewReader(string(stdin))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %v: %v", args, err)
	}
	return out
}

func TestParsePin(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    string // pin in base64; empty when an error is wanted
		errPart string
	}{
		{in: knownPin, want: knownPin},
		{in: "sha256/" + knownPin, want: knownPin},
		{in: "sha256/8KoXbT5we1zazoFiHhwIgWnz/ZCrQ/11wr5670bdFRc=", want: "8KoXbT5we1zazoFiHhwIgWnz/ZCrQ/11wr5670bdFRc="},
		{in: "8KoXbT5we1zazoFiHhwIgWnz/ZCrQ/11wr5670bdFRc=", want: "8KoXbT5we1zazoFiHhwIgWnz/ZCrQ/11wr5670bdFRc="},
		{in: "sha1/AAAAAAAAAAAAAAAAAAAAAAAAAAA=", errPart: "only SHA-256 pins are supported"},
		{in: "sha256/AAAAAAAA", errPart: "decodes to 6 bytes"},
		{in: "not base64!", errPart: "is not base64"},
		{in: strings.TrimSuffix(knownPin, "="), errPart: "is not base64"},
		{in: "", errPart: "decodes to 0 bytes"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			p, err := ParsePin(tc.in)
			if tc.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errPart) {
					t.Fatalf("error %v; want one containing %q", err, tc.errPart)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.String() != tc.want {
				t.Errorf("parsed %s, want %s", p, tc.want)
			}
		})
	}
}

func TestCompilePins(t *testing.T) {
	rules, err := compilePins(map[string][]string{
		"B.example":       {knownPin, "sha256/" + knownPin},
		"*.a.example":     {knownPin},
		"**.wild.example": {knownPin, "sha256/8KoXbT5we1zazoFiHhwIgWnz/ZCrQ/11wr5670bdFRc="},
	})
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, r := range rules {
		patterns = append(patterns, r.pattern)
	}
	if got := strings.Join(patterns, " "); got != "**.wild.example *.a.example b.example" {
		t.Errorf("patterns %q: want sorted and lowercased", got)
	}
	if len(rules[2].pins) != 1 {
		t.Errorf("b.example lists one pin twice; want it once, got %d", len(rules[2].pins))
	}

	for _, tc := range []struct {
		raw     map[string][]string
		errPart string
	}{
		{map[string][]string{"a.example": {"sha256/AAAA"}}, `pins["a.example"][0] = "sha256/AAAA": decodes to 3 bytes`},
		{map[string][]string{"a.example": nil}, `pins["a.example"] = []: lists no pins; fix: list at least two`},
		{map[string][]string{"": {knownPin}}, `pins = "": is empty; fix: key the pins by a host name`},
		{map[string][]string{"a.*.example": {knownPin}}, `pins = "a.*.example": is not a host name or pattern; fix: key the pins by a host name (example.com), *.host`},
		{map[string][]string{"https://a.example": {knownPin}}, `pins = "https://a.example": is not a host name or pattern`},
		{map[string][]string{"*.": {knownPin}}, `pins = "*.": has an empty label`},
	} {
		if _, err := compilePins(tc.raw); err == nil || !strings.Contains(err.Error(), tc.errPart) {
			t.Errorf("compilePins(%v): error %v; want one containing %q", tc.raw, err, tc.errPart)
		}
	}
}

func TestServesPattern(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"a.example", "a.example", true},
		{"a.example", "A.Example", true},
		{"a.example", "b.example", false},
		{"a.example", "*.example", true},
		{"a.example", "*.a.example", false},
		{"x.a.example", "*.a.example", true},
		{"*.a.example", "x.a.example", true},
		{"*.a.example", "a.example", false},
		{"*.a.example", "y.x.a.example", false},
		{"*.a.example", "*.a.example", true},
		{"**.a.example", "a.example", true},
		{"**.a.example", "y.x.a.example", true},
		{"**.a.example", "*.a.example", true},
		{"**.a.example", "ba.example", false},
	} {
		if got := servesPattern(tc.pattern, tc.name); got != tc.want {
			t.Errorf("servesPattern(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

func TestMatchesChainOkHttpSemantics(t *testing.T) {
	leaf, issuer, other := Pin{1}, Pin{2}, Pin{3}
	chain := []Pin{leaf, issuer}
	for _, tc := range []struct {
		pins []Pin
		want bool
	}{
		{[]Pin{leaf}, true},
		{[]Pin{issuer}, true},
		{[]Pin{other, issuer}, true},
		{[]Pin{other}, false},
		{nil, false},
	} {
		r := pinRule{pattern: "a.example", pins: tc.pins}
		if got := r.matchesChain(chain); got != tc.want {
			t.Errorf("pins %v against chain %v: %v, want %v", tc.pins, chain, got, tc.want)
		}
	}
}
