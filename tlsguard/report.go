package tlsguard

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Report is what GET /tlsguard/ returns.
type Report struct {
	Profile     string    `json:"profile"`
	Mode        string    `json:"mode"`
	GeneratedAt time.Time `json:"generated_at"`
	// Servers lists every HTTPS server with its policies' effective
	// settings, its sites and grades, and its handshake telemetry.
	Servers      []ServerReport `json:"servers"`
	Certificates []CertReport   `json:"certificates"`
	// Findings are the policy findings of the config, then the
	// certificate and site findings of this assessment.
	Findings Findings `json:"findings"`
	Summary  Summary  `json:"summary"`
}

// ServerReport is one HTTPS server.
type ServerReport struct {
	Name      string           `json:"name"`
	Policies  []PolicyReport   `json:"policies"`
	Sites     []SiteReport     `json:"sites"`
	Telemetry *TelemetryReport `json:"telemetry,omitempty"`
}

// Summary counts findings by severity.
type Summary struct {
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	Infos    int `json:"infos"`
}

// TelemetryReport is one server's handshake counters since Since.
type TelemetryReport struct {
	Since time.Time `json:"since"`
	// Handshakes are the completed handshakes by version, suite and
	// resumption; CompletedHandshakes their total.
	Handshakes          []HandshakeCount `json:"handshakes"`
	CompletedHandshakes uint64           `json:"completed_handshakes"`
	// ClientHellos counts full-handshake ClientHellos by the best version
	// offered; a tls1.2 client fails under the modern profile.
	ClientHellos map[string]uint64 `json:"client_hellos_by_max_version"`
	// TLS13ClientShare is the share of those ClientHellos that offer
	// TLS 1.3; null before the first one.
	TLS13ClientShare *float64 `json:"tls13_client_share"`
	// Refused counts failed handshakes by reason.
	Refused map[string]uint64 `json:"refused_handshakes"`
}

// HandshakeCount is the number of handshakes of one kind.
type HandshakeCount struct {
	Version     string `json:"version"`
	CipherSuite string `json:"cipher_suite"`
	Resumed     bool   `json:"resumed"`
	Count       uint64 `json:"count"`
}

// report reads the counters.
func (st *serverStats) report() *TelemetryReport {
	tr := &TelemetryReport{Since: st.since, ClientHellos: map[string]uint64{}, Refused: map[string]uint64{}}
	for v := range numVersionSlots {
		for s := range maxSuiteSlots {
			for r := range 2 {
				if n := st.handshakes[v][s][r].Load(); n > 0 {
					tr.Handshakes = append(tr.Handshakes, HandshakeCount{versionSlotNames[v], suiteSlotName(s), r == 1, n})
					tr.CompletedHandshakes += n
				}
			}
		}
	}
	var total uint64
	for v := range numVersionSlots {
		n := st.hellos[v].Load()
		tr.ClientHellos[versionSlotNames[v]] = n
		total += n
	}
	if total > 0 {
		share := float64(tr.ClientHellos["tls1.3"]) / float64(total)
		tr.TLS13ClientShare = &share
	}
	for r := range numReasons {
		tr.Refused[reasonNames[r]] = st.refused[r].Load()
	}
	return tr
}

// Report assesses the certificates and sites afresh and returns the full
// report.
func (a *App) Report() Report {
	as := a.assess()
	r := Report{
		Profile:      a.profile.Name,
		Mode:         string(a.Mode),
		GeneratedAt:  as.at,
		Servers:      slices.Clone(as.servers),
		Certificates: as.certs,
		Findings:     append(append(Findings{}, a.findings...), as.findings...),
	}
	for i, srv := range a.servers {
		if srv.stats != nil {
			r.Servers[i].Telemetry = srv.stats.report()
		}
	}
	r.Summary = Summary{
		Errors:   r.Findings.count(SeverityError),
		Warnings: r.Findings.count(SeverityWarning),
		Infos:    r.Findings.count(SeverityInfo),
	}
	if r.Servers == nil {
		r.Servers = []ServerReport{}
	}
	if r.Certificates == nil {
		r.Certificates = []CertReport{}
	}
	if r.Findings == nil {
		r.Findings = Findings{}
	}
	return r
}

// logMemory remembers what the app has logged, so that each finding is
// logged once and each grade when it changes. Assessments run on the
// ticker and for every report, so it is safe for concurrent use.
type logMemory struct {
	mu     sync.Mutex
	logged map[string]bool   // findings already logged
	grades map[string]string // site key -> grade last logged
}

func newLogMemory() *logMemory {
	return &logMemory{logged: make(map[string]bool), grades: make(map[string]string)}
}

// firstTime reports whether the finding is seen for the first time, and
// remembers it.
func (m *logMemory) firstTime(f Finding) bool {
	key := f.Code + "|" + f.location() + "|" + f.Value
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.logged[key] {
		return false
	}
	m.logged[key] = true
	return true
}

// gradeChanged reports whether a site's grade differs from the one last
// logged (always true the first time), and remembers it.
func (m *logMemory) gradeChanged(server, host, grade string) bool {
	key := server + "|" + host
	m.mu.Lock()
	defer m.mu.Unlock()
	prev, seen := m.grades[key]
	m.grades[key] = grade
	return !seen || prev != grade
}

// logFindings logs each finding the first time it is seen.
func (a *App) logFindings(fs Findings) {
	for _, f := range fs {
		if !a.logs.firstTime(f) {
			continue
		}
		if ce := a.logger.Check(f.level(), "tlsguard finding"); ce != nil {
			ce.Write(append([]zap.Field{zap.Stringer("severity", f.Severity)}, f.fields()...)...)
		}
	}
}

// logAssessment logs new findings and every site whose grade changed
// since it was last logged (all of them the first time).
func (a *App) logAssessment(as *assessment) {
	a.logFindings(as.findings)
	for _, srv := range as.servers {
		for _, s := range srv.Sites {
			grade := "pending"
			if s.Grade != nil {
				grade = s.Grade.Grade
			}
			if a.logs.gradeChanged(srv.Name, s.Host, grade) {
				a.logGrade(srv.Name, s)
			}
		}
	}
}

// logGrade logs one site's grade with its sub-scores and every cap.
func (a *App) logGrade(server string, s SiteReport) {
	if s.Grade == nil {
		a.logger.Info("site grade pending", zap.String("server", server), zap.String("site", s.Host), zap.String("reason", s.Pending))
		return
	}
	g := s.Grade
	caps := make([]string, len(g.Caps))
	for i, c := range g.Caps {
		caps[i] = fmt.Sprintf("%s: %s (%s)", c.Grade, c.Reason, c.Code)
	}
	fields := []zap.Field{
		zap.String("server", server),
		zap.String("site", s.Host),
		zap.String("grade", g.Grade),
		zap.Int("score", g.Score),
		zap.Int("protocol_support", g.Protocol.Score),
		zap.Int("key_exchange", g.KeyExchange.Score),
		zap.Int("cipher_strength", g.CipherStrength.Score),
		zap.Strings("caps", caps),
		zap.Strings("warnings", g.Warnings),
	}
	if ti := g.TrustIgnored; ti != nil {
		fields = append(fields, zap.String("grade_trust_ignored", ti.Grade), zap.Int("score_trust_ignored", ti.Score))
	}
	a.logger.Info("site grade", fields...)
}
