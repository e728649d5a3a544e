package pinreport

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/google/btree"

	"github.com/hardtls/caddy-hardtls/internal/certs"
	"github.com/hardtls/caddy-hardtls/internal/strictjson"
)

// Page sizes of /pinreport/: a large inventory is read a page at a time.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// pageQuery is a page of /pinreport/: at most limit entries after a
// cursor, that pass the filters. Without expiring_within, pages are in
// order of first name; with it, soonest expiry first.
type pageQuery struct {
	limit  int
	after  *cursor
	state  level         // numLevels: any
	kind   int           // numKinds: any
	within time.Duration // 0: any expiry
}

// cursor is where a page ends: the last entry's sort key.
type cursor struct {
	byExpiry bool
	name     string
	notAfter int64
	hash     string
}

// encode renders c as an opaque URL-safe string.
func (c cursor) encode() string {
	var s string
	if c.byExpiry {
		s = "e" + strconv.FormatInt(c.notAfter, 10) + "\x00" + c.hash
	} else {
		s = "n" + c.name + "\x00" + c.hash
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func decodeCursor(s string) (*cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) < 2 {
		return nil, errors.New("not a cursor")
	}
	key, hash, ok := strings.Cut(string(raw[1:]), "\x00")
	if !ok {
		return nil, errors.New("not a cursor")
	}
	c := &cursor{hash: hash}
	switch raw[0] {
	case 'n':
		c.name = key
	case 'e':
		c.byExpiry = true
		if c.notAfter, err = strconv.ParseInt(key, 10, 64); err != nil {
			return nil, errors.New("not a cursor")
		}
	default:
		return nil, errors.New("not a cursor")
	}
	return c, nil
}

func cursorOf(e *entry, byExpiry bool) cursor {
	return cursor{byExpiry: byExpiry, name: e.FirstName(), notAfter: e.Leaf.NotAfter.UnixNano(), hash: e.Hash}
}

// parsePageQuery reads limit, after, state, issuer_kind and
// expiring_within, naming the parameter, the bad value and the fix in the
// shape of a refused config value (strictjson.FieldError).
func parsePageQuery(q url.Values) (pageQuery, error) {
	p := pageQuery{limit: defaultPageSize, state: numLevels, kind: numKinds}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return p, queryError("limit", v, fmt.Sprintf("is not a number from 1 to %d", maxPageSize),
				fmt.Sprintf("ask for at most %d certificates a page and follow next", maxPageSize))
		}
		p.limit = n
	}
	if v := q.Get("state"); v != "" {
		i := slices.IndexFunc(levelNames[:], func(s string) bool { return s == v })
		if i < 0 {
			return p, queryError("state", v, "is not a state", "use ok, warning, critical or expired")
		}
		p.state = level(i)
	}
	if v := q.Get("issuer_kind"); v != "" {
		i := slices.IndexFunc([]IssuerKind{KindManual, KindACME, KindInternal}, func(k IssuerKind) bool { return k.String() == v })
		if i < 0 {
			return p, queryError("issuer_kind", v, "is not an issuer kind", "use acme, internal or manual")
		}
		p.kind = i
	}
	if v := q.Get("expiring_within"); v != "" {
		d, err := caddy.ParseDuration(v)
		if err != nil || d <= 0 {
			return p, queryError("expiring_within", v, "is not a positive duration", "write e.g. 72h or 14d")
		}
		p.within = d
	}
	if v := q.Get("after"); v != "" {
		c, err := decodeCursor(v)
		if err != nil {
			return p, queryError("after", v, "is not a cursor", "pass the next value of the previous page unchanged")
		}
		if c.byExpiry != (p.within > 0) {
			return p, queryError("after", v, "is the cursor of a page in another order", "keep expiring_within as it was on the previous page")
		}
		p.after = c
	}
	return p, nil
}

// queryError is a refused query parameter of the admin API, worded as a
// refused config value: `name = "value": why; fix: how`.
func queryError(name, value, why, fix string) error {
	return &strictjson.FieldError{Field: name, Value: strconv.Quote(value), Why: why, Fix: fix}
}

// matches reports whether e passes the filters at the deadline of
// expiring_within.
func (p pageQuery) matches(e *entry, deadline time.Time) bool {
	return (p.state == numLevels || e.level == p.state) &&
		(p.kind == numKinds || int(e.Kind) == p.kind) &&
		(p.within == 0 || e.Leaf.NotAfter.Before(deadline))
}

// page is one page of entries, the cursor of the next one (nil at the
// end) and, when it is known without a scan, how many entries pass the
// filters (-1 otherwise).
type page struct {
	entries []*entry
	next    *cursor
	total   int
}

// page returns the page p asks for at now. It reads at most limit+1
// matching entries of the index that fits the filters, after finding the
// cursor in O(log n): by expiry with expiring_within, the entries in
// warning or worse with such a state, else by name per issuer kind.
func (inv *inventory) page(p pageQuery, now time.Time) page {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	deadline := now.Add(p.within)
	var out []*entry
	collect := func(t *btree.BTreeG[*entry], less func(a, b *entry) bool, pivot *entry, stop func(*entry) bool) []*entry {
		var got []*entry
		visit := func(e *entry) bool {
			if stop != nil && stop(e) {
				return false
			}
			if pivot != nil && !less(pivot, e) {
				return true // the cursor's own entry
			}
			if p.matches(e, deadline) {
				got = append(got, e)
			}
			return len(got) <= p.limit
		}
		if pivot != nil {
			t.AscendGreaterOrEqual(pivot, visit)
		} else {
			t.Ascend(visit)
		}
		return got
	}
	byExpiry := p.within > 0
	switch {
	case byExpiry:
		var pivot *entry
		if p.after != nil {
			pivot = pivotEntry(*p.after)
		}
		out = collect(inv.byExpiry, lessExpiry, pivot, func(e *entry) bool { return !e.Leaf.NotAfter.Before(deadline) })
	default:
		var pivot *entry
		if p.after != nil {
			pivot = pivotEntry(*p.after)
		}
		trees := inv.byName[:]
		switch {
		case p.state != numLevels && p.state != levelOK:
			trees = []*btree.BTreeG[*entry]{inv.troubled}
		case p.kind != numKinds:
			trees = inv.byName[p.kind : p.kind+1]
		}
		// The first limit+1 of the union are among the first limit+1
		// of each index.
		for _, t := range trees {
			out = append(out, collect(t, lessName, pivot, nil)...)
		}
		if len(trees) > 1 {
			slices.SortFunc(out, compareEntries)
		}
	}
	pg := page{total: -1}
	if len(out) > p.limit {
		c := cursorOf(out[p.limit-1], byExpiry)
		pg.next = &c
		out = out[:p.limit]
	}
	pg.entries = out
	if p.within == 0 {
		pg.total = 0
		for k := range inv.counts {
			for l, n := range inv.counts[k] {
				if (p.kind == numKinds || k == p.kind) && (p.state == numLevels || level(l) == p.state) {
					pg.total += n
				}
			}
		}
	}
	return pg
}

// pivotEntry is an entry that sorts where c points, for the indexes'
// searches.
func pivotEntry(c cursor) *entry {
	e := &entry{Facts: certs.Facts{Names: []string{c.name}, Hash: c.hash}}
	if c.byExpiry {
		e.Leaf = expiryPivot(c.notAfter)
	}
	return e
}

// expiryPivot returns a leaf that expires at notAfter (Unix nanoseconds),
// for searches of the index by expiry.
func expiryPivot(notAfter int64) *x509.Certificate {
	return &x509.Certificate{NotAfter: time.Unix(0, notAfter)}
}
