package integration

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hardtls/caddy-hardtls/fleet"
)

// The fleet tests run real Caddy processes (the binary of cmd/caddy) that
// share one file_system storage folder, on ports 20000+offset and up.

// fleetBase is the first port of the fleet tests' range.
func fleetBase(t *testing.T) int {
	offset := 0
	if v := os.Getenv("HARDTLS_TEST_PORT_OFFSET"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("HARDTLS_TEST_PORT_OFFSET=%q", v)
		}
		offset = n
	}
	return 20000 + offset
}

var (
	caddyBinOnce sync.Once
	caddyBin     string
	caddyBinErr  error
)

// buildCaddy builds cmd/caddy once per test run, into TestMain's
// temporary folder (an 80 MB binary must not outlive the run).
func buildCaddy(t *testing.T) string {
	t.Helper()
	caddyBinOnce.Do(func() {
		if caddyBinErr = os.MkdirAll(binDir, 0o700); caddyBinErr != nil {
			return
		}
		caddyBin = filepath.Join(binDir, "caddy")
		cmd := exec.Command("go", "build", "-o", caddyBin, "./cmd/caddy")
		cmd.Dir = ".."
		out, err := cmd.CombinedOutput()
		if err != nil {
			caddyBinErr = fmt.Errorf("go build ./cmd/caddy: %v\n%s", err, out)
		}
	})
	if caddyBinErr != nil {
		t.Fatal(caddyBinErr)
	}
	return caddyBin
}

// fleetHook is a webhook receiver that checks and counts fleet alerts.
type fleetHook struct {
	secret []byte
	srv    *http.Server
	url    string

	mu       sync.Mutex
	alerts   []fleet.Alert
	problems []string
}

func newFleetHook(t *testing.T, port int, secret string) *fleetHook {
	h := &fleetHook{secret: []byte(secret)}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	h.url = "http://" + ln.Addr().String() + "/hook"
	h.srv = &http.Server{Handler: http.HandlerFunc(h.serve)}
	go func() { _ = h.srv.Serve(ln) }()
	t.Cleanup(func() { _ = h.srv.Close() })
	return h
}

func (h *fleetHook) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	mac := hmac.New(sha256.New, h.secret)
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	h.mu.Lock()
	defer h.mu.Unlock()
	var al fleet.Alert
	switch err := json.Unmarshal(body, &al); {
	case r.Method != http.MethodPost:
		h.problems = append(h.problems, "method "+r.Method)
	case !hmac.Equal([]byte(r.Header.Get("X-Hardtls-Signature")), []byte(want)):
		h.problems = append(h.problems, "bad signature")
	case err != nil:
		h.problems = append(h.problems, "undecodable body: "+err.Error())
	case al.ID != r.Header.Get("X-Hardtls-Delivery") || al.Event != r.Header.Get("X-Hardtls-Event"):
		h.problems = append(h.problems, "headers do not match the body")
	default:
		h.alerts = append(h.alerts, al)
	}
}

// byEvent returns the alerts of one event received so far.
func (h *fleetHook) byEvent(t *testing.T, event string) []fleet.Alert {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.problems) > 0 {
		t.Fatalf("webhook receiver: %s", strings.Join(h.problems, "; "))
	}
	var out []fleet.Alert
	for _, al := range h.alerts {
		if al.Event == event {
			out = append(out, al)
		}
	}
	return out
}

func (h *fleetHook) summary() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var parts []string
	for _, al := range h.alerts {
		var keys []string
		for _, it := range al.Items {
			keys = append(keys, it.Key)
		}
		parts = append(parts, fmt.Sprintf("%s by %s %v", al.Event, al.SentBy[:8], keys))
	}
	return strings.Join(parts, "\n")
}

// logFleetOnFailure logs, when the test fails, the alerts hook received
// and the tail of each process's log.
func logFleetOnFailure(t *testing.T, hook *fleetHook, procs []*fleetProc) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("alerts received:\n%s", hook.summary())
			for _, p := range procs {
				t.Logf("--- log of %s (%s):\n%s", p.name, p.id, p.logTail())
			}
		}
	})
}

// fleetProc is one Caddy process of the test fleet.
type fleetProc struct {
	name      string
	dir       string
	adminPort int
	httpsPort int
	config    string
	namespace bool // started in a mount namespace of its own
	cmd       *exec.Cmd
	exited    chan struct{}
	id        string
}

// start runs the process; it keeps its data directory (and so its
// instance ID) across restarts.
func (p *fleetProc) start(t *testing.T, bin string) {
	t.Helper()
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(p.dir, "caddy.json")
	if err := os.WriteFile(cfgFile, []byte(p.config), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.OpenFile(filepath.Join(p.dir, "caddy.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{bin, "run", "--config", cfgFile}
	if p.namespace {
		args = append([]string{"unshare", "--mount", "--propagation", "private"}, args...)
	}
	p.cmd = exec.Command(args[0], args[1:]...)
	p.cmd.Env = append(os.Environ(),
		"XDG_DATA_HOME="+filepath.Join(p.dir, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(p.dir, "config"),
		"FLEET_ADMIN_PORT="+strconv.Itoa(p.adminPort),
		"FLEET_HTTPS_PORT="+strconv.Itoa(p.httpsPort),
	)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.exited = make(chan struct{})
	go func() { _ = p.cmd.Wait(); logFile.Close(); close(p.exited) }()
	t.Cleanup(func() { p.kill() })
	v := waitFleet(t, 60*time.Second, p.name+" answers /fleet/", func() (fleet.View, bool) {
		v, err := p.view()
		return v, err == nil && v.Instance != ""
	})
	p.id = v.Instance
}

// kill ends the process with SIGKILL, as a crash would.
func (p *fleetProc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

func (p *fleetProc) view() (fleet.View, error) {
	var v fleet.View
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/fleet/", p.adminPort))
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return v, fmt.Errorf("GET /fleet/: %s: %s", resp.Status, b)
	}
	return v, json.NewDecoder(resp.Body).Decode(&v)
}

// logTail is what a failure shows of the process's log: every warning
// and error line (the first 40), then the last 6000 bytes.
func (p *fleetProc) logTail() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "caddy.log"))
	var problems []string
	for line := range strings.Lines(string(b)) {
		if len(problems) < 40 && (strings.Contains(line, `"level":"warn"`) || strings.Contains(line, `"level":"error"`)) {
			problems = append(problems, line)
		}
	}
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return "warnings and errors:\n" + strings.Join(problems, "") + "tail:\n" + string(b)
}

// waitFleet is eventually for a cond that returns what it saw: it
// returns the value that satisfied cond, and reports the last one (%+v)
// on timeout.
func waitFleet[T any](t *testing.T, wait time.Duration, what string, cond func() (T, bool)) T {
	t.Helper()
	var v T
	eventually(t, wait, what, func() (bool, string) {
		var ok bool
		v, ok = cond()
		return ok, fmt.Sprintf("%+v", v)
	})
	return v
}

// shape is what must be the same in every view: instances and their
// states, drift items and who is in each group.
func shape(v fleet.View) string {
	var b strings.Builder
	for _, iv := range v.Instances {
		fmt.Fprintf(&b, "%s=%s ", iv.ID[:8], iv.State)
	}
	for _, d := range v.Drift {
		fmt.Fprintf(&b, "| %s/%s", d.Kind, d.Subject)
		for _, g := range d.Groups {
			ids := make([]string, len(g.Instances))
			for i, id := range g.Instances {
				ids[i] = id[:8]
			}
			fmt.Fprintf(&b, " [%s]", strings.Join(ids, ","))
		}
	}
	return b.String()
}

func stateIn(v fleet.View, id string) string {
	for _, iv := range v.Instances {
		if iv.ID == id {
			return iv.State
		}
	}
	return "absent"
}

func driftKinds(v fleet.View) []string {
	var out []string
	for _, d := range v.Drift {
		out = append(out, d.Kind)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// fleetConfig is the JSON config of a test instance: the same text for
// every normal instance (ports come from the environment), so their
// config hashes agree. weak adds a CBC suite in tlsguard's audit mode.
func fleetConfig(shared, hookURL string, weak bool) string {
	policy := `{}`
	tlsguard := `{"profile": "intermediate", "mode": "enforce"}`
	if weak {
		policy = `{"cipher_suites": ["TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]}`
		tlsguard = `{"profile": "intermediate", "mode": "audit"}`
	}
	return fmt.Sprintf(`{
	"admin": {"listen": "127.0.0.1:{env.FLEET_ADMIN_PORT}"},
	"storage": {"module": "file_system", "root": %q},
	"apps": {
		"http": {
			"servers": {
				"fleet": {
					"listen": ["127.0.0.1:{env.FLEET_HTTPS_PORT}"],
					"automatic_https": {"disable_redirects": true},
					"routes": [{
						"match": [{"host": ["fleet.test"]}],
						"handle": [{"handler": "hsts"}, {"handler": "static_response", "body": "ok"}]
					}],
					"tls_connection_policies": [%s]
				}
			}
		},
		"tls": {"certificates": {"automate": ["fleet.test"]}, "automation": {"policies": [{"subjects": ["fleet.test"], "issuers": [{"module": "internal"}]}]}},
		"pki": {"certificate_authorities": {"local": {"install_trust": false}}},
		"tlsguard": %s,
		"fleet": {
			"interval": "1s",
			"stale_after": 5,
			"gone_after": 600,
			"drift_grace": "2s",
			"clock_tolerance": "30s",
			"webhook": {"url": %q, "secret": "fleet-test-secret"}
		}
	}
}`, shared, policy, tlsguard, hookURL)
}

// canMountNamespace tells whether this test can give one process a
// read-only view of the shared folder: as root, chmod does not stop
// writes, so a read-only bind mount in a mount namespace of its own does.
func canMountNamespace() (bool, string) {
	if runtime.GOOS != "linux" {
		return false, "mount namespaces are Linux only"
	}
	if os.Geteuid() != 0 {
		return false, "not root: cannot create a mount namespace (chmod of the shared folder would stop every instance, not one)"
	}
	for _, tool := range []string{"unshare", "nsenter", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			return false, tool + " is not installed"
		}
	}
	if out, err := exec.Command("unshare", "--mount", "--propagation", "private", "true").CombinedOutput(); err != nil {
		return false, fmt.Sprintf("unshare --mount fails here: %v: %s", err, bytes.TrimSpace(out))
	}
	return true, ""
}

// nsMount runs mount or umount inside a process's mount namespace.
func nsMount(t *testing.T, pid int, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(context.Background(), "nsenter", append([]string{"-t", strconv.Itoa(pid), "-m", "--"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nsenter %v: %v: %s", args, err, out)
	}
}
