package fleet

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Storage keys. Everything the fleet stores lives under one versioned
// prefix, beside certmagic's own keys in the same storage.
const (
	keyPrefix       = "hardtls/fleet/v1"
	instancesPrefix = keyPrefix + "/instances"
	alertsKey       = keyPrefix + "/alerts.json"
	// alertLock is the storage lock around reading, sending and writing
	// the alert record; probeLockPrefix names the lock an instance takes
	// twice to learn whether the storage's locks exclude.
	alertLock       = "hardtls_fleet_v1_alerts"
	probeLockPrefix = "hardtls_fleet_v1_probe_"
)

// keyHashLen is how many hex digits of the facts' SHA-256 a key carries:
// 64 bits, plenty to notice a change.
const keyHashLen = 16

// recordKey is a parsed instance key:
//
//	hardtls/fleet/v1/instances/<instance uuid>_<unix ms>_<facts hash>.json
//
// The write time tells a reader that the instance wrote again (and gives
// its clock) and the hash whether the facts changed, both from the listing
// alone, so a reader loads only records whose facts changed.
type recordKey struct {
	key      string
	instance string
	written  time.Time // the writer's clock, in milliseconds
	hash     string
}

// makeKey returns the key of an instance's record.
func makeKey(instance string, written time.Time, hash string) string {
	return fmt.Sprintf("%s/%s_%d_%s.json", instancesPrefix, instance, written.UnixMilli(), hash)
}

// errNotRecord is returned by parseKey for keys that are not records.
var errNotRecord = errors.New("not a fleet record key")

// parseKey reads a key from a listing of instancesPrefix.
func parseKey(key string) (recordKey, error) {
	name, ok := strings.CutSuffix(path.Base(key), ".json")
	if !ok {
		return recordKey{}, errNotRecord
	}
	parts := strings.Split(name, "_")
	if len(parts) != 3 {
		return recordKey{}, errNotRecord
	}
	id, err := uuid.Parse(parts[0])
	if err != nil || id.String() != parts[0] {
		return recordKey{}, errNotRecord
	}
	ms, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || ms <= 0 {
		return recordKey{}, errNotRecord
	}
	if len(parts[2]) != keyHashLen {
		return recordKey{}, errNotRecord
	}
	if _, err := hex.DecodeString(parts[2]); err != nil {
		return recordKey{}, errNotRecord
	}
	return recordKey{key: key, instance: parts[0], written: time.UnixMilli(ms), hash: parts[2]}, nil
}

// isTempKey tells whether a listed key is certmagic's file_system temp
// file of a write in progress (os.CreateTemp names: digits only); those
// are passed over without a warning.
func isTempKey(key string) bool {
	base := path.Base(key)
	if base == "" {
		return false
	}
	for _, r := range base {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// factsHash returns the key hash of a facts JSON.
func factsHash(facts []byte) string {
	sum := sha256.Sum256(facts)
	return hex.EncodeToString(sum[:])[:keyHashLen]
}

// encodeRecord returns the key and body of an instance's record.
func encodeRecord(instance string, written time.Time, facts InstanceFacts) (string, []byte, error) {
	fj, err := json.Marshal(facts)
	if err != nil {
		return "", nil, fmt.Errorf("encoding facts: %w", err)
	}
	written = written.Truncate(time.Millisecond)
	body, err := json.Marshal(Record{Version: recordVersion, Instance: instance, WrittenAt: written.UTC(), Facts: fj})
	if err != nil {
		return "", nil, fmt.Errorf("encoding record: %w", err)
	}
	return makeKey(instance, written, factsHash(fj)), body, nil
}

// Reasons a listed key or a loaded record is skipped; they label the
// skipped-records metric.
const (
	skipBadKey    = "bad_key"
	skipMalformed = "malformed"
	skipVersion   = "version"
	skipMismatch  = "mismatch"
)

// skipError is a record that cannot be used, with why.
type skipError struct {
	reason string
	err    error
}

func (e *skipError) Error() string { return e.err.Error() }

func skip(reason, format string, args ...any) error {
	return &skipError{reason: reason, err: fmt.Errorf(format, args...)}
}

// decodeRecord checks a loaded record against its key and returns its
// facts. A record cut short by a crash, one of another version, or one
// whose content does not match its key is refused with a skipError.
func decodeRecord(k recordKey, body []byte) (InstanceFacts, error) {
	var rec Record
	if err := json.Unmarshal(body, &rec); err != nil {
		return InstanceFacts{}, skip(skipMalformed, "record %s is not valid JSON (%d bytes; cut short by a crash mid-write?): %v", k.key, len(body), err)
	}
	if rec.Version != recordVersion {
		return InstanceFacts{}, skip(skipVersion, "record %s has format version %d; this hardtls reads version %d (an instance runs another hardtls version)", k.key, rec.Version, recordVersion)
	}
	if rec.Instance != k.instance {
		return InstanceFacts{}, skip(skipMismatch, "record %s names instance %q, not the one in its key", k.key, rec.Instance)
	}
	if got := factsHash(rec.Facts); got != k.hash {
		return InstanceFacts{}, skip(skipMismatch, "record %s: facts hash %s does not match the key's %s", k.key, got, k.hash)
	}
	var facts InstanceFacts
	if err := json.Unmarshal(rec.Facts, &facts); err != nil {
		return InstanceFacts{}, skip(skipMalformed, "record %s: facts: %v", k.key, err)
	}
	return facts, nil
}
