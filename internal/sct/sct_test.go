package sct

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hardtls/caddy-hardtls/internal/testpki"
)

var (
	logA = testpki.LogIDFor("log a")
	logB = testpki.LogIDFor("log b")
	logC = testpki.LogIDFor("log c")
	t0   = time.Date(2026, 3, 1, 12, 0, 0, 123e6, time.UTC)
)

func sctBytes(id [32]byte, at time.Time) []byte {
	return testpki.SCT{LogID: id, Timestamp: at}.Marshal()
}

// be16 returns n as a big-endian uint16, for hand-built lists.
func be16(n int) []byte { return []byte{byte(n >> 8), byte(n)} }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestParse(t *testing.T) {
	good := testpki.SCT{LogID: logA, Timestamp: t0, Extensions: []byte{0xAB}, Signature: []byte{1, 2, 3}}.Marshal()
	s, err := Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != V1 || s.LogID != logA || !s.Timestamp.Equal(t0) ||
		!bytes.Equal(s.Extensions, []byte{0xAB}) || !bytes.Equal(s.Signature, []byte{1, 2, 3}) ||
		s.Algorithm() != "ecdsa-sha256" {
		t.Errorf("Parse = %+v", s)
	}

	// Offsets in a v1 SCT: version 0, log ID 1..32, timestamp 33..40,
	// extensions length 41..42, then the extensions.
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "SCT is empty: expected at least a version byte"},
		{"version 1", cat([]byte{1}, good[1:]), "SCT version 1 is not supported: RFC 6962 defines only v1, encoded 0"},
		{"short log ID", good[:20], "expected a 32-byte log ID, found 19 bytes"},
		{"short timestamp", good[:37], "expected an 8-byte timestamp, found 4 bytes"},
		{"timestamp overflow", cat(good[:33], []byte{0x80, 0, 0, 0, 0, 0, 0, 0}, good[41:]), "SCT timestamp 9223372036854775808 ms is out of range"},
		{"no extensions length", good[:42], "expected a 2-byte extensions length, found 1 bytes"},
		{"extensions overrun", cat(good[:41], be16(500), good[43:]), "SCT extensions overruns the SCT: length says 500 bytes, 8 remain"},
		{"no algorithm", good[:45], "expected a 2-byte signature algorithm"},
		{"signature overrun", cat(good[:46], be16(4), []byte{1, 2, 3}), "SCT signature overruns the SCT: length says 4 bytes, 3 remain"},
		{"empty signature", cat(good[:46], be16(0)), "SCT signature is empty"},
		{"trailing bytes", cat(good, []byte{0, 0}), "SCT has 2 trailing bytes after its signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseList(t *testing.T) {
	a, b := sctBytes(logA, t0), sctBytes(logB, t0.Add(time.Second))
	twoA := testpki.SCTList(a, b)
	tests := []struct {
		name    string
		in      []byte
		wantIDs []LogID
		wantErr string
	}{
		{"two logs", twoA, []LogID{logA, logB}, ""},
		{"duplicate log", testpki.SCTList(a, a), []LogID{logA, logA}, ""},
		{"nothing", nil, nil, "SCT list truncated: expected a 2-byte length, found 0 bytes"},
		{"zero entries", be16(0), nil, "SCT list is empty: RFC 6962 §3.3 requires at least one SCT"},
		{"truncated", twoA[:len(twoA)-1], nil, "SCT list overruns its data: length says"},
		{"outer length overruns", cat(be16(len(twoA)+10), twoA[2:]), nil, "SCT list overruns its data"},
		{"trailing bytes", cat(twoA, []byte{9}), nil, "SCT list has 1 trailing bytes"},
		{"empty entry", cat(be16(2+len(a)+2), be16(len(a)), a, be16(0)), []LogID{logA}, "SCT 1 is empty: RFC 6962 §3.3 requires 1 to 65535 bytes"},
		{"entry overruns", cat(be16(2+len(a)+2+5), be16(len(a)), a, be16(len(b)), b[:5]), []LogID{logA}, "SCT 1 overruns the list: length says 55 bytes, 5 remain"},
		{"entry length cut", cat(be16(2+len(a)+1), be16(len(a)), a, []byte{0}), []LogID{logA}, "SCT 1: truncated: expected a 2-byte length, found 1 bytes"},
		{"bad entry kept out", testpki.SCTList(a, []byte{7, 1, 2}, b), []LogID{logA, logB}, "SCT 1: SCT version 7 is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scts, err := ParseList(tt.in)
			var ids []LogID
			for _, s := range scts {
				ids = append(ids, s.LogID)
			}
			if !equalIDs(ids, tt.wantIDs) {
				t.Errorf("log IDs = %v, want %v", ids, tt.wantIDs)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func equalIDs(a, b []LogID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEmbedded(t *testing.T) {
	ca := testpki.NewCA(t, "SCT test CA", nil)
	leaf := testpki.Leaf{Names: []string{"ct.example"}}

	t.Run("none", func(t *testing.T) {
		scts, err := Embedded(ca.Issue(t, leaf).Leaf)
		if scts != nil || err != nil {
			t.Errorf("Embedded = %v, %v; want nil, nil", scts, err)
		}
	})
	t.Run("two", func(t *testing.T) {
		list := testpki.SCTList(sctBytes(logA, t0), sctBytes(logB, t0.Add(time.Hour)))
		scts, err := Embedded(ca.IssueWith(t, leaf, testpki.WithSCTList(list)).Leaf)
		if err != nil || len(scts) != 2 {
			t.Fatalf("Embedded = %v, %v", scts, err)
		}
		for _, s := range scts {
			if s.Source != SourceEmbedded {
				t.Errorf("source = %q, want embedded", s.Source)
			}
		}
		if !scts[1].Timestamp.Equal(t0.Add(time.Hour)) {
			t.Errorf("timestamp = %v", scts[1].Timestamp)
		}
	})
	t.Run("not an OCTET STRING", func(t *testing.T) {
		raw := func(tmpl *x509.Certificate) {
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: OIDEmbedded(), Value: []byte{0x02, 0x01, 0x05}})
		}
		_, err := Embedded(ca.IssueWith(t, leaf, raw).Leaf)
		if err == nil || err.Error() != "embedded SCT list: expected a DER OCTET STRING, found tag 0x02" {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("trailing DER", func(t *testing.T) {
		raw := func(tmpl *x509.Certificate) {
			v, _ := asn1.Marshal(testpki.SCTList(sctBytes(logA, t0)))
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: OIDEmbedded(), Value: append(v, 0)})
		}
		_, err := Embedded(ca.IssueWith(t, leaf, raw).Leaf)
		if err == nil || !strings.Contains(err.Error(), "1 trailing bytes after the OCTET STRING") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("truncated list", func(t *testing.T) {
		list := testpki.SCTList(sctBytes(logA, t0))
		scts, err := Embedded(ca.IssueWith(t, leaf, testpki.WithSCTList(list[:len(list)-3])).Leaf)
		if len(scts) != 0 || err == nil || !strings.HasPrefix(err.Error(), "embedded SCT list: SCT list overruns its data") {
			t.Errorf("Embedded = %v, %v", scts, err)
		}
	})
}

func TestFromTLS(t *testing.T) {
	scts, err := FromTLS([][]byte{sctBytes(logA, t0), {0}, sctBytes(logC, t0)})
	if len(scts) != 2 || scts[0].LogID != logA || scts[1].LogID != logC || scts[0].Source != SourceTLS {
		t.Errorf("FromTLS = %+v", scts)
	}
	if err == nil || !strings.Contains(err.Error(), "TLS SCT 1: SCT truncated: expected a 32-byte log ID, found 0 bytes") {
		t.Errorf("error = %v", err)
	}
}

func TestInspect(t *testing.T) {
	ca := testpki.NewCA(t, "SCT test CA", nil)
	list := testpki.SCTList(sctBytes(logA, t0), sctBytes(logA, t0), []byte{1})
	leaf := ca.IssueWith(t, testpki.Leaf{Names: []string{"ct.example"}}, testpki.WithSCTList(list)).Leaf
	r := Inspect(leaf, [][]byte{sctBytes(logB, t0)})
	if r.Embedded != 2 || r.TLS != 1 || r.Count() != 3 {
		t.Errorf("counts: embedded %d, tls %d, total %d; want 2, 1, 3", r.Embedded, r.TLS, r.Count())
	}
	if got := r.Logs(SourceEmbedded); !equalIDs(got, []LogID{logA}) {
		t.Errorf("embedded logs = %v", got)
	}
	if len(r.Errors) != 1 || r.Errors[0] != "embedded SCT list: SCT 2: SCT version 1 is not supported: RFC 6962 defines only v1, encoded 0" {
		t.Errorf("errors = %q", r.Errors)
	}

	out, err := json.Marshal(r.SCTs[0])
	if err != nil {
		t.Fatal(err)
	}
	want := `{"source":"embedded","version":"v1","log_id":"` + LogID(logA).String() + `","timestamp":"2026-03-01T12:00:00.123Z"}`
	if string(out) != want {
		t.Errorf("JSON = %s\nwant   %s", out, want)
	}
}

// TestReportJSONRoundTrip: a report holding SCTs decodes to what was
// encoded (tlsguard's report carries them to API clients).
func TestReportJSONRoundTrip(t *testing.T) {
	in := Report{Embedded: 1, TLS: 1, SCTs: []SCT{
		{Source: SourceEmbedded, Version: V1, LogID: logA, Timestamp: t0, Extensions: []byte{1, 2}},
		{Source: SourceTLS, Version: Version(3)},
	}, Errors: []string{"x"}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Report
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.SCTs) != 2 || out.SCTs[0].LogID != logA || out.SCTs[0].Version != V1 || !out.SCTs[0].Timestamp.Equal(t0) ||
		!bytes.Equal(out.SCTs[0].Extensions, []byte{1, 2}) || out.SCTs[1].Version != 3 || out.Embedded != 1 || out.TLS != 1 {
		t.Errorf("round trip of %s: %+v", b, out)
	}
	for _, bad := range []string{`{"log_id": "AAAA"}`, `{"version": "v2"}`} {
		var s SCT
		if err := json.Unmarshal([]byte(bad), &s); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
}
