package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestPinReportManualCertificateAnnouncedEarly loads, six times, a config
// whose tls app loads a certificate from files for names no site or
// policy mentions: only the cached_unmanaged_cert event the tls app emits
// while it provisions says it exists, and Caddy provisions its apps in no
// set order, so the pinreport app may not have subscribed yet. The
// pinreport handler wired in the events app is provisioned before the tls
// app loads certificates (the tls app provisions the events app first),
// and provisions the pinreport app, which subscribes in time: the
// certificate is in the inventory every time, although a reconcile
// (scan_interval 1h, at start) cannot find it by name.
func TestPinReportManualCertificateAnnouncedEarly(t *testing.T) {
	mark := logMark()
	dumpPinReportLogs(t, mark)
	for i := range 6 {
		name := fmt.Sprintf("file%d.early.pinreport.localhost", i)
		certFile, keyFile, der := manualCert(t, name)
		load(t, expand(`{
	"admin": {"listen": "localhost:{{admin_port}}"},
	"storage": {"module": "file_system", "root": "{{data_dir}}/caddy"},
	"logging": {"logs": {"default": {"writer": {"output": "file", "filename": "{{log_file}}"}, "encoder": {"format": "json"}, "level": "DEBUG"}}},
	"apps": {
		"events": {"subscriptions": [{"events": ["cached_unmanaged_cert"], "handlers": [{"handler": "pinreport"}]}]},
		"pinreport": {"scan_interval": "1h"},
		"pki": {"certificate_authorities": {"local": {"install_trust": false}}},
		"tls": {
			"certificates": {"load_files": [{"certificate": "`+certFile+`", "key": "`+keyFile+`"}]},
			"automation": {"policies": [{"issuers": [{"module": "internal"}]}]}
		},
		"http": {
			"http_port": {{http_port}},
			"https_port": {{https_port}},
			"servers": {"srv0": {
				"listen": ["127.0.0.1:{{https_port}}"],
				"automatic_https": {"disable_redirects": true},
				"routes": [{"match": [{"host": ["site.early.pinreport.localhost"]}], "handle": [{"handler": "static_response", "body": "ok"}]}]
			}}
		}
	}
}`), "json")
		want := opensslFactsOf(t, der).fingerprint
		listed, last := poll(10*time.Second, func() (bool, string) {
			status, body := adminGet(t, "/pinreport/"+name)
			return status == http.StatusOK, fmt.Sprintf("%d %s", status, body)
		})
		if !listed {
			for _, e := range logsSince(t, mark, "", 0) {
				if l, _ := e["logger"].(string); strings.HasPrefix(l, "tls") || strings.HasPrefix(l, "events") || e["msg"] == "event" {
					b, _ := json.Marshal(e)
					t.Log(string(b))
				}
			}
			t.Fatalf("load %d: %s is not in the inventory 10s after the config loaded: %s", i, name, last)
		}
		rep := inventory(t, name)
		if len(rep.Certificates) != 1 || rep.Certificates[0].SHA256Fingerprint != want || rep.Certificates[0].IssuerKind != "manual" {
			t.Fatalf("load %d: /pinreport/%s: %+v; want the manual certificate %s", i, name, rep.Certificates, want)
		}
	}
}
