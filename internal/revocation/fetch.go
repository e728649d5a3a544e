package revocation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// fetchResult is one answer of a CRL server.
type fetchResult struct {
	crl                *crl
	etag, lastModified string
	notModified        bool
}

// fetch GETs the CRL at crlURL, conditionally when etag or lastModified
// (the validators of the cached copy) are set, reading at most
// c.maxBytes+1 bytes of body.
func (c *Checker) fetch(ctx context.Context, crlURL, etag, lastModified string) (fetchResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, crlURL, nil)
	if err != nil {
		return fetchResult{}, err
	}
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept", "application/pkix-crl, */*;q=0.1")
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	if lastModified != "" {
		req.Header.Set("If-Modified-Since", lastModified)
	}
	c.stats.fetches.Add(1)
	resp, err := c.client.Do(req)
	if err != nil {
		// url.Error repeats the URL the caller already names.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fetchResult{}, fmt.Errorf("fetching: %w", err)
	}
	defer resp.Body.Close()

	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotModified:
		if etag == "" && lastModified == "" {
			return fetchResult{}, errors.New("the server answered 304 Not Modified to a request without validators")
		}
		return fetchResult{notModified: true}, nil
	default:
		return fetchResult{}, fmt.Errorf("the server answered %s (Content-Type %q), expected 200 OK with a CRL", resp.Status, resp.Header.Get("Content-Type"))
	}
	if resp.ContentLength > c.maxBytes {
		return fetchResult{}, fmt.Errorf("the CRL is %d bytes (Content-Length), over the limit of %d; fix: raise the CRL size limit if this CA's CRLs are that large", resp.ContentLength, c.maxBytes)
	}
	body, err := readLimited(resp.Body, c.maxBytes, resp.ContentLength)
	c.stats.bytes.Add(int64(len(body)))
	if err != nil {
		return fetchResult{}, err
	}
	crl, err := parseCRL(body)
	if err != nil {
		return fetchResult{}, fmt.Errorf("parsing the body (Content-Type %q): %w", resp.Header.Get("Content-Type"), err)
	}
	return fetchResult{crl: crl, etag: resp.Header.Get("ETag"), lastModified: resp.Header.Get("Last-Modified")}, nil
}

// readLimited reads r to its end, refusing a body of more than limit
// bytes after reading at most limit+1. Its buffer starts at the announced
// length (when there is one) or 64 KiB, doubles as needed and never grows
// past limit+1, so a hostile body costs at most about twice the limit.
func readLimited(r io.Reader, limit, contentLength int64) ([]byte, error) {
	size := int64(64 << 10)
	if contentLength >= 0 {
		size = max(contentLength+1, 512) // +1: see EOF without growing
	}
	buf := make([]byte, 0, min(size, limit+1))
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return buf, fmt.Errorf("the CRL is over the limit of %d bytes; fix: raise the CRL size limit if this CA's CRLs are that large", limit)
			}
			grown := make([]byte, len(buf), min(2*int64(cap(buf)), limit+1))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			if int64(len(buf)) > limit {
				return buf, fmt.Errorf("the CRL is over the limit of %d bytes; fix: raise the CRL size limit if this CA's CRLs are that large", limit)
			}
			return buf, nil
		}
		if err != nil {
			return buf, fmt.Errorf("reading the body after %d bytes: %w", len(buf), err)
		}
	}
}
