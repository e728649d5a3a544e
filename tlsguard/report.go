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

	// KeyExchanges counts completed handshakes by the key exchange group
	// they negotiated (none: TLS 1.2 without ECDHE; other: a group tlsguard
	// does not know).
	KeyExchanges map[string]uint64 `json:"key_exchanges_by_group"`
	// HelloRetryRequests counts the completed handshakes in which the
	// server asked the client for a key share of another group, by that
	// group: a client offered it without a share (or offered no group the
	// server takes with a share), costing a round trip.
	HelloRetryRequests map[string]uint64 `json:"hello_retry_requests_by_group"`
	// PostQuantumShare is the share of completed handshakes whose key
	// exchange was an ML-KEM hybrid (X25519MLKEM768 and the like); null
	// before the first one.
	PostQuantumShare *float64 `json:"post_quantum_share"`
	// ClientHellosOfferingMLKEM counts the full-handshake ClientHellos
	// whose supported groups include an ML-KEM hybrid, and MLKEMClientShare
	// is their share (null before the first ClientHello): clients that
	// could use post-quantum key exchange, whether the policy lets them or
	// not.
	ClientHellosOfferingMLKEM uint64   `json:"client_hellos_offering_mlkem"`
	MLKEMClientShare          *float64 `json:"mlkem_client_share"`
	// ECH is present where Encrypted ClientHello is configured.
	ECH *ECHTelemetry `json:"ech,omitempty"`
}

// SiteTelemetry is one site's share of the server's completed handshakes:
// those whose client asked for the site's name (an exact name, or one
// label under a wildcard site). Handshakes without a server name count
// for the catch-all site only.
type SiteTelemetry struct {
	Handshakes uint64 `json:"handshakes"`
	// PostQuantumShare is the share of Handshakes whose key exchange was
	// an ML-KEM hybrid; null before the first one.
	PostQuantumShare *float64 `json:"post_quantum_share"`
	// ECH is present where Encrypted ClientHello is configured.
	ECH *SiteECH `json:"ech,omitempty"`
}

// HandshakeCount is the number of handshakes of one kind.
type HandshakeCount struct {
	Version     string `json:"version"`
	CipherSuite string `json:"cipher_suite"`
	Resumed     bool   `json:"resumed"`
	Count       uint64 `json:"count"`
}

// report renders the counters of a server; echNames are the public names
// of the ECH configs, nil when ECH is not configured.
func (s *statsSnapshot) report(echNames []string) *TelemetryReport {
	tr := &TelemetryReport{
		Since:              s.since,
		ClientHellos:       make(map[string]uint64, numVersionSlots),
		Refused:            make(map[string]uint64, numReasons),
		KeyExchanges:       make(map[string]uint64, numGroupSlots),
		HelloRetryRequests: make(map[string]uint64, numGroupSlots),
	}
	for v := range numVersionSlots {
		for c := range maxSuiteSlots {
			for r := range 2 {
				if n := s.handshakes[v][c][r]; n > 0 {
					tr.Handshakes = append(tr.Handshakes, HandshakeCount{versionSlotNames[v], suiteSlotName(c), r == 1, n})
					tr.CompletedHandshakes += n
				}
			}
		}
		tr.ClientHellos[versionSlotNames[v]] = s.hellos[v]
	}
	tr.TLS13ClientShare = s.tls13ClientShare()
	for r := range numReasons {
		tr.Refused[reasonNames[r]] = s.refused[r]
	}
	for g := range numGroupSlots {
		tr.KeyExchanges[groupSlotNames[g]] = s.groups[g][0] + s.groups[g][1]
		tr.HelloRetryRequests[groupSlotNames[g]] = s.groups[g][1]
	}
	tr.PostQuantumShare = s.postQuantumShare()
	tr.ClientHellosOfferingMLKEM = s.mlkemHello[1]
	tr.MLKEMClientShare = s.mlkemClientShare()
	if echNames != nil {
		tr.ECH = &ECHTelemetry{
			PublicNames:   slices.Clone(echNames),
			ClientHellos:  s.echHello,
			Accepted:      s.echDone,
			AcceptedShare: s.echAcceptedShare(),
			Rejected:      s.refused[reasonECHRequired],
		}
	}
	return tr
}

// report renders the counters of a site; withECH says whether ECH is
// configured.
func (ss siteSnapshot) report(withECH bool) *SiteTelemetry {
	n := ss.total()
	st := &SiteTelemetry{Handshakes: n, PostQuantumShare: ratio(ss.postQuantum(), n)}
	if withECH {
		st.ECH = &SiteECH{Accepted: ss.echAccepted(), AcceptedShare: ratio(ss.echAccepted(), n)}
	}
	return st
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
		if srv.stats == nil {
			continue
		}
		snap := srv.stats.snapshot(srv.hosts())
		sr := &r.Servers[i]
		sr.Telemetry = snap.report(a.echNames)
		// The assessment's sites are shared with the metrics collector:
		// copy before adding to them.
		sr.Sites = slices.Clone(sr.Sites)
		for j := range sr.Sites {
			sr.Sites[j].Telemetry = snap.sites[sr.Sites[j].Host].report(a.echNames != nil)
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
