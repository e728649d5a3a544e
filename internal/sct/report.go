package sct

import "crypto/x509"

// Report lists the SCTs that accompany one certificate, from every
// source, and the errors met reading them.
type Report struct {
	// Embedded and TLS count the SCTs that parsed, per source.
	Embedded int `json:"embedded"`
	TLS      int `json:"tls"`
	// SCTs are the SCTs that parsed: embedded ones first, in list order.
	SCTs []SCT `json:"scts,omitempty"`
	// Errors describe lists and SCTs that did not parse, one per problem.
	Errors []string `json:"errors,omitempty"`
}

// Inspect reads the SCTs embedded in leaf and those delivered in the TLS
// extension with it (tlsSCTs, one serialized SCT each; nil when none).
// It never fails: problems are in Report.Errors.
func Inspect(leaf *x509.Certificate, tlsSCTs [][]byte) Report {
	var r Report
	if leaf != nil {
		scts, errs := embedded(leaf)
		r.add(scts, errs)
		r.Embedded = len(scts)
	}
	scts, errs := fromTLS(tlsSCTs)
	r.add(scts, errs)
	r.TLS = len(scts)
	return r
}

func (r *Report) add(scts []SCT, errs []error) {
	r.SCTs = append(r.SCTs, scts...)
	for _, err := range errs {
		r.Errors = append(r.Errors, err.Error())
	}
}

// Count returns the number of SCTs that parsed, from every source.
func (r Report) Count() int { return len(r.SCTs) }

// Logs returns the distinct logs among the SCTs from src, in the order
// they first appear.
func (r Report) Logs(src Source) []LogID {
	var ids []LogID
	seen := make(map[LogID]bool)
	for _, s := range r.SCTs {
		if s.Source != src || seen[s.LogID] {
			continue
		}
		seen[s.LogID] = true
		ids = append(ids, s.LogID)
	}
	return ids
}
