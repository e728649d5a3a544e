package sct

import (
	"bytes"
	"encoding/hex"
	"encoding/pem"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"

	"github.com/hardtls/caddy-hardtls/internal/testpki"
)

// opensslSCT is one "Signed Certificate Timestamp:" block of
// `openssl x509 -text`.
type opensslSCT struct {
	version, logID, timestamp, extensions string
}

// opensslSCTs prints cert with `openssl x509 -noout -text` and returns the
// SCTs it decoded from the "CT Precertificate SCTs" extension, or skips
// the test when openssl is not installed.
func opensslSCTs(t *testing.T, der []byte) []opensslSCT {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed: the SCT encoding is not checked against it")
	}
	file := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "x509", "-noout", "-text", "-in", file).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl x509: %v\n%s", err, out)
	}
	text := string(out)
	if !strings.Contains(text, "CT Precertificate SCTs") {
		t.Fatalf("openssl did not see the SCT list extension:\n%s", text)
	}
	field := regexp.MustCompile(`^\s+(Version|Log ID|Timestamp|Extensions|Signature)\s*: ?(.*)$`)
	cont := regexp.MustCompile(`^\s+([0-9A-F]{2}(:[0-9A-F]{2})*:?)$`)
	var scts []opensslSCT
	var last *string
	for line := range strings.SplitSeq(text, "\n") {
		if strings.TrimSpace(line) == "Signed Certificate Timestamp:" {
			scts = append(scts, opensslSCT{})
			last = nil
			continue
		}
		if len(scts) == 0 {
			continue
		}
		s := &scts[len(scts)-1]
		if m := field.FindStringSubmatch(line); m != nil {
			switch m[1] {
			case "Version":
				s.version, last = m[2], nil
			case "Log ID":
				s.logID, last = m[2], &s.logID
			case "Timestamp":
				s.timestamp, last = m[2], nil
			case "Extensions":
				s.extensions, last = m[2], &s.extensions
			default:
				last = nil
			}
			continue
		}
		if m := cont.FindStringSubmatch(line); m != nil && last != nil {
			*last += m[1]
		}
	}
	return scts
}

// TestOpenSSLDecodesTheSameSCTs embeds SCT lists in certificates and
// checks that openssl, an implementation we did not write, reads the same
// versions, log IDs, timestamps and extensions as Embedded.
func TestOpenSSLDecodesTheSameSCTs(t *testing.T) {
	ca := testpki.NewCA(t, "SCT test CA", nil)
	leaf := testpki.Leaf{Names: []string{"ct.example"}}
	list := testpki.SCTList(
		testpki.SCT{LogID: logA, Timestamp: time.Date(2026, 3, 1, 9, 5, 7, 1e6, time.UTC)}.Marshal(),
		testpki.SCT{LogID: logB, Timestamp: time.Date(2025, 12, 31, 23, 59, 59, 999e6, time.UTC), Extensions: []byte{0xDE, 0xAD}}.Marshal(),
		testpki.SCT{LogID: logC, Timestamp: time.UnixMilli(1)}.Marshal(),
	)
	cert := ca.IssueWith(t, leaf, testpki.WithSCTList(list)).Leaf

	theirs := opensslSCTs(t, cert.Raw)
	ours, err := Embedded(cert)
	if err != nil {
		t.Fatal(err)
	}
	if len(theirs) != len(ours) || len(ours) != 3 {
		t.Fatalf("openssl decoded %d SCTs, Embedded %d; want 3", len(theirs), len(ours))
	}
	for i, o := range ours {
		th := theirs[i]
		if th.version != "v1 (0x0)" {
			t.Errorf("SCT %d: openssl version %q", i, th.version)
		}
		id, err := hex.DecodeString(strings.ReplaceAll(th.logID, ":", ""))
		if err != nil || !bytes.Equal(id, o.LogID[:]) {
			t.Errorf("SCT %d: openssl log ID %s, ours %x", i, th.logID, o.LogID)
		}
		// openssl prints e.g. "Mar  1 09:05:07.001 2026 GMT".
		ts, err := time.Parse("Jan _2 15:04:05.000 2006 MST", th.timestamp)
		if err != nil || !ts.Equal(o.Timestamp) {
			t.Errorf("SCT %d: openssl timestamp %q, ours %v (%v)", i, th.timestamp, o.Timestamp, err)
		}
		wantExt := "none"
		if len(o.Extensions) > 0 {
			wantExt = strings.ToUpper(hex.EncodeToString(o.Extensions[:1]))
			for _, b := range o.Extensions[1:] {
				wantExt += ":" + strings.ToUpper(hex.EncodeToString([]byte{b}))
			}
		}
		if th.extensions != wantExt {
			t.Errorf("SCT %d: openssl extensions %q, ours %q", i, th.extensions, wantExt)
		}
	}

	// Lists both refuse: openssl then prints no decoded SCT.
	a := sctBytes(logA, t0)
	for name, bad := range map[string][]byte{
		"truncated":    testpki.SCTList(a)[:30],
		"zero entries": be16(0),
	} {
		t.Run(name, func(t *testing.T) {
			cert := ca.IssueWith(t, leaf, testpki.WithSCTList(bad)).Leaf
			if got := opensslSCTs(t, cert.Raw); len(got) != 0 {
				t.Errorf("openssl decoded %d SCTs", len(got))
			}
			if scts, err := Embedded(cert); len(scts) != 0 || err == nil {
				t.Errorf("Embedded = %v, %v; want an error and no SCT", scts, err)
			}
		})
	}
	t.Run("version 1", func(t *testing.T) {
		cert := ca.IssueWith(t, leaf, testpki.WithSCTList(testpki.SCTList(append([]byte{1}, a[1:]...)))).Leaf
		if got := opensslSCTs(t, cert.Raw); len(got) != 1 || got[0].version != "unknown" {
			t.Errorf("openssl decoded %+v", got)
		}
		if _, err := Embedded(cert); err == nil || !strings.Contains(err.Error(), "SCT version 1 is not supported") {
			t.Errorf("error = %v", err)
		}
	})
}

// ctgoParseList parses an SCT list with github.com/google/certificate-transparency-go,
// a second implementation we did not write. ok is false when it refuses
// the list or any SCT in it.
func ctgoParseList(b []byte) (scts []ct.SignedCertificateTimestamp, ok bool) {
	var list ctx509.SignedCertificateTimestampList
	rest, err := cttls.Unmarshal(b, &list)
	if err != nil || len(rest) > 0 {
		return nil, false
	}
	for _, s := range list.SCTList {
		var sct ct.SignedCertificateTimestamp
		rest, err := cttls.Unmarshal(s.Val, &sct)
		if err != nil || len(rest) > 0 {
			return nil, false
		}
		scts = append(scts, sct)
	}
	return scts, true
}

// agreeWithCTGo checks ParseList against certificate-transparency-go on
// one input. The two differ on purpose in four places, which it allows:
// ct-go reads SCTs of any version with the v1 layout (RFC 6962 §3.2 says
// clients ignore versions they do not know: ParseList refuses them), it
// accepts an empty signature and a timestamp past 2^63-1 ms (ParseList
// refuses both), and it caps the list at 65335 bytes, a typo for the 65535
// of RFC 6962 §3.3.
func agreeWithCTGo(t *testing.T, in []byte) {
	ours, err := ParseList(in)
	theirs, ok := ctgoParseList(in)
	if err == nil {
		if !ok {
			if len(in) > 65335+2 {
				return
			}
			t.Fatalf("ParseList accepted %x, certificate-transparency-go refused it", in)
		}
		if len(ours) != len(theirs) {
			t.Fatalf("ParseList read %d SCTs, certificate-transparency-go %d", len(ours), len(theirs))
		}
		for i, o := range ours {
			th := theirs[i]
			if o.LogID != th.LogID.KeyID || uint64(o.Timestamp.UnixMilli()) != th.Timestamp ||
				!bytes.Equal(o.Extensions, th.Extensions) || !bytes.Equal(o.Signature, th.Signature.Signature) ||
				o.HashAlgorithm != uint8(th.Signature.Algorithm.Hash) || o.SignatureAlgorithm != uint8(th.Signature.Algorithm.Signature) {
				t.Fatalf("SCT %d: ParseList %+v, certificate-transparency-go %+v", i, o, th)
			}
		}
		return
	}
	if !ok {
		return
	}
	for _, th := range theirs {
		if th.SCTVersion != ct.V1 || len(th.Signature.Signature) == 0 || th.Timestamp > math.MaxInt64 {
			return // a documented difference
		}
	}
	t.Fatalf("certificate-transparency-go accepted %x, ParseList refused it: %v", in, err)
}

func TestAgreesWithCertificateTransparencyGo(t *testing.T) {
	a, b := sctBytes(logA, t0), testpki.SCT{LogID: logB, Timestamp: t0, Extensions: []byte{1}}.Marshal()
	inputs := [][]byte{
		testpki.SCTList(a), testpki.SCTList(a, b), testpki.SCTList(a, a),
		testpki.SCTList(a)[:20], be16(0), cat(testpki.SCTList(a), []byte{0}),
		testpki.SCTList(cat(a, []byte{0})), testpki.SCTList(cat([]byte{1}, a[1:])),
	}
	for _, in := range inputs {
		agreeWithCTGo(t, in)
	}
	if _, ok := ctgoParseList(testpki.SCTList(a, b)); !ok {
		t.Fatal("certificate-transparency-go refused a well-formed list: the oracle is not working")
	}
}
