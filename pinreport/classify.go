package pinreport

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"path"

	"github.com/caddyserver/caddy/v2/modules/caddypki"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"
)

// classifier finds out who manages a certificate seen for the first time.
// The cache does not say (certmagic keeps it unexported), so it asks:
//  1. Caddy's own CAs (the pki app): a leaf signed by one is internal;
//  2. storage: a certificate certmagic manages is stored under
//     certificates/<issuer key>/<name>/<name>.crt, next to metadata that
//     holds the ACME CA's renewal information (ARI);
//  3. otherwise it was loaded by the config: manual.
//
// One classifier serves one scan; it lists the storage's issuers at most
// once.
type classifier struct {
	ctx         context.Context
	storage     certmagic.Storage
	caKeys      map[string]string // SubjectKeyId of a CA certificate → CA ID
	internalIDs map[string]bool   // issuer keys of Caddy's CAs
	policies    []*caddytls.AutomationPolicy
	dirs        []string
	listed      bool
}

// maxStoredNames bounds how many names of one certificate are looked up
// in storage: certmagic stores a managed certificate under its one
// subject name, which is among the first.
const maxStoredNames = 4

func (a *App) newClassifier(tlsApp *caddytls.TLS) *classifier {
	c := &classifier{
		ctx:         a.ctx,
		storage:     a.storage,
		caKeys:      make(map[string]string),
		internalIDs: make(map[string]bool),
	}
	if app, err := a.ctx.AppIfConfigured("pki"); err == nil {
		if pki, ok := app.(*caddypki.PKI); ok {
			for id, ca := range pki.CAs {
				c.addCA(id, ca)
			}
		}
	}
	if tlsApp != nil && tlsApp.Automation != nil {
		c.policies = tlsApp.Automation.Policies
	}
	return c
}

// addCA records the keys of one of Caddy's CAs.
func (c *classifier) addCA(id string, ca *caddypki.CA) {
	c.internalIDs[id] = true
	if root := ca.RootCertificate(); root != nil && len(root.SubjectKeyId) > 0 {
		c.caKeys[string(root.SubjectKeyId)] = id
	}
	for _, cert := range ca.IntermediateCertificateChain() {
		if len(cert.SubjectKeyId) > 0 {
			c.caKeys[string(cert.SubjectKeyId)] = id
		}
	}
}

// origin classifies a certificate with a parsed leaf.
func (c *classifier) origin(cert certmagic.Certificate) origin {
	o := origin{kind: KindManual}
	if aki := cert.Leaf.AuthorityKeyId; len(aki) > 0 {
		if id, ok := c.caKeys[string(aki)]; ok {
			o.kind, o.issuerKey = KindInternal, id
		}
	}
	if c.storage == nil {
		return o
	}
	for i, name := range cert.Names {
		if i == maxStoredNames {
			break
		}
		for _, dir := range c.issuerDirs() {
			if !c.storedAs(dir, name, cert.Leaf.Raw) {
				continue
			}
			o.issuerKey = dir
			if o.kind != KindInternal {
				o.kind = KindACME
				if c.internalIDs[dir] {
					o.kind = KindInternal
				}
			}
			c.readARI(dir, name, &o)
			return o
		}
	}
	return o
}

// issuerDirs lists the issuer keys certmagic stores certificates under.
func (c *classifier) issuerDirs() []string {
	if !c.listed {
		c.listed = true
		keys, err := c.storage.List(c.ctx, "certificates", false)
		if err == nil {
			for _, k := range keys {
				c.dirs = append(c.dirs, path.Base(k))
			}
		}
	}
	return c.dirs
}

// storedAs reports whether storage holds leaf as the certificate of name
// under issuer key dir.
func (c *classifier) storedAs(dir, name string, leaf []byte) bool {
	data, err := c.storage.Load(c.ctx, certmagic.StorageKeys.SiteCert(dir, name))
	if err != nil {
		return false
	}
	block, _ := pem.Decode(data)
	return block != nil && bytes.Equal(block.Bytes, leaf)
}

// readARI fills in the renewal information certmagic stored with the
// certificate, if the CA gave any.
func (c *classifier) readARI(dir, name string, o *origin) {
	data, err := c.storage.Load(c.ctx, certmagic.StorageKeys.SiteMeta(dir, name))
	if err != nil {
		return
	}
	var meta struct {
		IssuerData acme.Certificate `json:"issuer_data"`
	}
	if json.Unmarshal(data, &meta) != nil || meta.IssuerData.RenewalInfo == nil {
		return
	}
	ari := meta.IssuerData.RenewalInfo
	o.ariAt = ari.SelectedTime
	o.ariStart, o.ariEnd = ari.SuggestedWindow.Start, ari.SuggestedWindow.End
	if o.ariAt.IsZero() && ari.HasWindow() {
		// certmagic picks a time in the window; until it has, expect
		// the renewal at the start of the window.
		o.ariAt = ari.SuggestedWindow.Start
	}
}

// ratio returns the renewal window ratio of the automation policy that
// manages names (certmagic's default when none sets one).
func (c *classifier) ratio(names []string) float64 {
	var catchAll float64
	for _, ap := range c.policies {
		subjects := ap.Subjects()
		if len(subjects) == 0 {
			if catchAll == 0 {
				catchAll = ap.RenewalWindowRatio
			}
			continue
		}
		for _, s := range subjects {
			for _, n := range names {
				if s == n || certmagic.MatchWildcard(n, s) {
					return orDefaultRatio(ap.RenewalWindowRatio)
				}
			}
		}
	}
	return orDefaultRatio(catchAll)
}

func orDefaultRatio(r float64) float64 {
	if r <= 0 || r >= 1 {
		return certmagic.DefaultRenewalWindowRatio
	}
	return r
}
