package tlsguard

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestDashboard checks the example Grafana dashboard against the code:
// every tlsguard metric it queries is one the collector describes, panel
// IDs are unique, panels do not overlap, and promtool (when installed)
// parses every query.
func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile("../examples/prometheus/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			ID      int    `json:"id"`
			Title   string `json:"title"`
			Type    string `json:"type"`
			GridPos struct{ X, Y, W, H int }
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}

	described := map[string]bool{}
	ch := make(chan *prometheus.Desc, 64)
	newCollector(&App{}).Describe(ch)
	close(ch)
	fqName := regexp.MustCompile(`fqName: "([a-z0-9_]+)"`)
	for d := range ch {
		described[fqName.FindStringSubmatch(d.String())[1]] = true
	}

	seen := map[int]string{}
	type cell struct{ x, y int }
	taken := map[cell]string{}
	var exprs []string
	metric := regexp.MustCompile(`\btlsguard_[a-z0-9_]+`)
	for _, p := range dash.Panels {
		if prev, ok := seen[p.ID]; ok {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		seen[p.ID] = p.Title
		for x := p.GridPos.X; x < p.GridPos.X+p.GridPos.W; x++ {
			for y := p.GridPos.Y; y < p.GridPos.Y+p.GridPos.H; y++ {
				if prev, ok := taken[cell{x, y}]; ok {
					t.Errorf("panel %q overlaps %q at x=%d y=%d", p.Title, prev, x, y)
				}
				taken[cell{x, y}] = p.Title
			}
		}
		if p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q is wider than the dashboard", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
			for _, m := range metric.FindAllString(tg.Expr, -1) {
				if !described[m] {
					t.Errorf("panel %q queries %s, which tlsguard does not export", p.Title, m)
				}
			}
		}
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool is not installed: the queries are not parsed")
		return
	}
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	grafana := strings.NewReplacer("$__rate_interval", "5m", "$instance", ".*")
	for i, e := range exprs {
		fmt.Fprintf(&rules, "      - record: dashboard:query%d\n        expr: %q\n", i, grafana.Replace(e))
	}
	file := filepath.Join(t.TempDir(), "dashboard.rules.yml")
	if err := os.WriteFile(file, []byte(rules.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the dashboard's queries: %v\n%s", err, out)
	}
}
