package integration

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestReloadUnderLoad sends steady traffic while the config is reloaded 20
// times through the admin /load, alternating two valid configs with a
// refused one in between. No request may fail (the client retries an
// idempotent request on a closed idle connection, as browsers and Go's
// http.Transport do), and every response carries the HSTS header of the
// config that produced its body.
func TestReloadUnderLoad(t *testing.T) {
	site := func(maxAge int, body string) string {
		return caddyfile("local_certs", fmt.Sprintf("localhost {\n\thsts %d\n\trespond %q\n}\n", maxAge, body))
	}
	configs := []string{site(1000, "A"), site(2000, "B")}
	wantHeader := map[string]string{"A": "max-age=1000; includeSubDomains", "B": "max-age=2000; includeSubDomains"}
	bad := caddyfile("local_certs", "localhost {\n\thsts 600 {\n\t\tpreload\n\t}\n\trespond \"bad\"\n}\n")

	load(t, configs[0], "caddyfile")
	roots := localRoot(t)
	waitCert(t, "localhost", roots)
	c := client(roots)
	url := "https://localhost:" + strconv.Itoa(httpsPort) + "/"

	var ok, failed, mismatched atomic.Int64
	var seenMu sync.Mutex
	seen := map[string]int{}
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get(url)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d, %v", resp.StatusCode, err))
					continue
				}
				ok.Add(1)
				if got := resp.Header.Values("Strict-Transport-Security"); len(got) != 1 || got[0] != wantHeader[string(body)] {
					mismatched.Add(1)
				}
				seenMu.Lock()
				seen[string(body)]++
				seenMu.Unlock()
			}
		}()
	}

	admin := &http.Client{Timeout: 30 * time.Second}
	post := func(cfg string) int {
		resp, err := admin.Post(fmt.Sprintf("http://localhost:%d/load", adminPort), "text/caddyfile", strings.NewReader(cfg))
		if err != nil {
			t.Errorf("posting config: %v", err)
			return 0
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	for i := 1; i <= 20; i++ {
		time.Sleep(100 * time.Millisecond)
		if code := post(configs[i%2]); code != 200 {
			t.Errorf("reload %d: status %d", i, code)
		}
		time.Sleep(100 * time.Millisecond)
		if code := post(bad); code == 200 {
			t.Errorf("reload %d: the invalid config was accepted", i)
		}
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()

	t.Logf("%d requests ok, %d failed, %d with a header of another config; bodies %v", ok.Load(), failed.Load(), mismatched.Load(), seen)
	if failed.Load() != 0 {
		t.Errorf("%d requests failed during reloads; first: %v", failed.Load(), firstErr.Load())
	}
	if mismatched.Load() != 0 {
		t.Errorf("%d responses carried another config's HSTS header", mismatched.Load())
	}
	if seen["A"] == 0 || seen["B"] == 0 || seen["bad"] != 0 {
		t.Errorf("responses by config = %v; want both A and B and never the refused one", seen)
	}
	if ok.Load() < 200 {
		t.Errorf("only %d requests completed; the load was not steady", ok.Load())
	}
}
