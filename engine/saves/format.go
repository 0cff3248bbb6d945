package saves

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	gosync "sync"
	"time"

	"golang.org/x/crypto/argon2"
)

// A version object — the bytes stored locally and at every sink under
// GAME/PLAYER/saves/SLOT/ID.sav — is (docs/saves-format.md):
//
//	magic   8 bytes "SKYSAVE1"
//	flags   1 byte: bit 0 set = encrypted
//	plain:      body
//	encrypted:  salt length (1 byte), salt, key check (8 bytes), nonce (12 bytes),
//	            AES-256-GCM(body) with additional data = everything before the
//	            nonce, then the object's key
//	body    header length (uint32, big endian), header (JSON), payload, thumbnail
//
// The header names the version's slot and id, which must match the key it
// is stored under, so a version moved to another slot or id is refused;
// encrypted, the key is authenticated too. Payload and thumbnail carry
// SHA-256 digests in the header.

const magic = "SKYSAVE1"

const flagEncrypted = 1

// header is a version's metadata and lineage.
type header struct {
	Slot    string   `json:"slot"`
	ID      string   `json:"id"`
	Parents []string `json:"parents,omitempty"`
	// Seen is the version vector: for every device whose versions this one
	// descends from, the clock of the latest of them (its own included).
	Seen     map[string]HLC `json:"seen"`
	DeviceID string         `json:"device_id"`
	Device   string         `json:"device"`
	Clock    HLC            `json:"clock"`
	// Meta the player chooses by.
	Updated     time.Time `json:"updated"`
	PlayTimeMS  int64     `json:"play_time_ms,omitempty"`
	Progress    float64   `json:"progress,omitempty"`
	Description string    `json:"description,omitempty"`
	// Encoding is "json" (typed fields merge) or "bytes".
	Encoding      string `json:"encoding"`
	Size          int64  `json:"size"`
	SHA256        string `json:"sha256"`
	ThumbnailSize int64  `json:"thumbnail_size,omitempty"`
	ThumbSHA256   string `json:"thumbnail_sha256,omitempty"`
	// Made says how the version came to be: "save", "merge" (of Parents,
	// by the typed rules; Conflicts lists plain values the policy decided),
	// "policy:NAME", "merge:game" (Options.Merge), "resolve", "restore".
	Made      string   `json:"made"`
	Conflicts []string `json:"conflicts,omitempty"`
	Restored  string   `json:"restored,omitempty"`
}

// Errors reading versions.
var (
	ErrWrongPassphrase = errors.New("saves: wrong passphrase")
	ErrTampered        = errors.New("saves: version is damaged or was tampered with")
	ErrNotSave         = errors.New("saves: not a skyloop save version")
	ErrNeedPassphrase  = errors.New("saves: version is encrypted: a passphrase is needed (games: saves.passphrase_env in the config names the variable holding it; skyloop: --passphrase-file or SKYLOOP_SAVES_PASSPHRASE)")
	ErrNotEncrypted    = errors.New("saves: version is not encrypted, but this store requires encryption (a passphrase is set): refused")
)

// cipherKey is a passphrase-derived AES-256 key for one salt.
type cipherKey struct {
	salt  []byte
	aead  cipher.AEAD
	check [8]byte
}

// Argon2id parameters (RFC 9106's second recommended option with 2 lanes);
// derivation takes ~0.1 s, once per salt per process.
const (
	kdfTime    = 3
	kdfMemory  = 64 * 1024 // KiB
	kdfThreads = 2
)

var keyCache = struct {
	gosync.Mutex
	m map[[32]byte]*cipherKey
}{m: map[[32]byte]*cipherKey{}}

// deriveKey returns the key for passphrase and salt, cached.
func deriveKey(passphrase string, salt []byte) (*cipherKey, error) {
	id := sha256.Sum256(append(append([]byte(passphrase), 0), salt...))
	keyCache.Lock()
	defer keyCache.Unlock()
	if k := keyCache.m[id]; k != nil {
		return k, nil
	}
	raw := argon2.IDKey([]byte(passphrase), salt, kdfTime, kdfMemory, kdfThreads, 32)
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	k := &cipherKey{salt: append([]byte(nil), salt...), aead: aead}
	mac := hmac.New(sha256.New, raw)
	mac.Write([]byte("skyloop saves key check"))
	copy(k.check[:], mac.Sum(nil))
	keyCache.m[id] = k
	return k, nil
}

func digest(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// encodeVersion builds the stored bytes of a version; key is the object
// key it will be stored under.
func encodeVersion(key string, h header, payload, thumb []byte, k *cipherKey) ([]byte, error) {
	h.Size, h.SHA256 = int64(len(payload)), digest(payload)
	if len(thumb) > 0 {
		h.ThumbnailSize, h.ThumbSHA256 = int64(len(thumb)), digest(thumb)
	}
	hj, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	body := make([]byte, 4, 4+len(hj)+len(payload)+len(thumb))
	binary.BigEndian.PutUint32(body, uint32(len(hj)))
	body = append(append(append(body, hj...), payload...), thumb...)
	if k == nil {
		return append([]byte(magic+"\x00"), body...), nil
	}
	out := []byte(magic)
	out = append(out, flagEncrypted, byte(len(k.salt)))
	out = append(out, k.salt...)
	out = append(out, k.check[:]...)
	aad := append(append([]byte(nil), out...), key...)
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, body, aad), nil
}

// decoded is a version read back.
type decoded struct {
	hdr       header
	payload   []byte
	thumb     []byte
	encrypted bool
}

// decodeVersion parses and checks the stored bytes of the version at key.
// passphrase "" means the store does not encrypt (an encrypted version is
// then ErrNeedPassphrase); with a passphrase, a plain version is refused.
func decodeVersion(key string, data []byte, passphrase string) (decoded, error) {
	var d decoded
	if len(data) < len(magic)+1 || string(data[:len(magic)]) != magic {
		return d, ErrNotSave
	}
	flags := data[len(magic)]
	rest := data[len(magic)+1:]
	body := rest
	switch flags {
	case 0:
		if passphrase != "" {
			return d, ErrNotEncrypted
		}
	case flagEncrypted:
		d.encrypted = true
		if passphrase == "" {
			return d, ErrNeedPassphrase
		}
		if len(rest) < 1 || len(rest) < 1+int(rest[0])+8+12+16 {
			return d, fmt.Errorf("%w: truncated", ErrTampered)
		}
		saltLen := int(rest[0])
		salt := rest[1 : 1+saltLen]
		check := rest[1+saltLen : 1+saltLen+8]
		k, err := deriveKey(passphrase, salt)
		if err != nil {
			return d, err
		}
		if !hmac.Equal(check, k.check[:]) {
			return d, ErrWrongPassphrase
		}
		prefixLen := len(magic) + 1 + 1 + saltLen + 8
		aad := append(append([]byte(nil), data[:prefixLen]...), key...)
		nonce := data[prefixLen : prefixLen+12]
		body, err = k.aead.Open(nil, nonce, data[prefixLen+12:], aad)
		if err != nil {
			return d, ErrTampered
		}
	default:
		return d, fmt.Errorf("%w: unknown flags 0x%02x", ErrNotSave, flags)
	}
	if len(body) < 4 {
		return d, fmt.Errorf("%w: truncated", ErrTampered)
	}
	n := binary.BigEndian.Uint32(body)
	if uint64(n) > uint64(len(body)-4) {
		return d, fmt.Errorf("%w: header length %d past the end", ErrTampered, n)
	}
	dec := json.NewDecoder(bytes.NewReader(body[4 : 4+n]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d.hdr); err != nil {
		return d, fmt.Errorf("%w: header: %v", ErrTampered, err)
	}
	rest = body[4+n:]
	if d.hdr.Size < 0 || d.hdr.ThumbnailSize < 0 || d.hdr.Size+d.hdr.ThumbnailSize != int64(len(rest)) {
		return d, fmt.Errorf("%w: sizes %d+%d, %d bytes present", ErrTampered, d.hdr.Size, d.hdr.ThumbnailSize, len(rest))
	}
	d.payload, d.thumb = rest[:d.hdr.Size], rest[d.hdr.Size:]
	if digest(d.payload) != d.hdr.SHA256 || len(d.thumb) > 0 && digest(d.thumb) != d.hdr.ThumbSHA256 {
		return d, fmt.Errorf("%w: content digest mismatch", ErrTampered)
	}
	if slot, id, ok := parseVersionKey(key); !ok || slot != d.hdr.Slot || id != d.hdr.ID {
		return d, fmt.Errorf("%w: stored under %s but names slot %q, version %q", ErrTampered, key, d.hdr.Slot, d.hdr.ID)
	}
	if d.hdr.Encoding != "json" && d.hdr.Encoding != "bytes" {
		return d, fmt.Errorf("%w: encoding %q", ErrTampered, d.hdr.Encoding)
	}
	return d, nil
}
