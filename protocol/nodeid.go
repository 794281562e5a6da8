package protocol

import (
	"encoding/hex"
	"fmt"
	"io"
)

// NodeIDLen is the length of a node ID.
const NodeIDLen = 40

// NewNodeID returns a fresh node ID: 40 lower-case hex characters made from
// 20 bytes of r. A node makes one on first start (and on CLUSTER RESET HARD)
// and keeps it in nodes.conf; pass crypto/rand.Reader, or a seeded reader in
// tests.
func NewNodeID(r io.Reader) (string, error) {
	var b [NodeIDLen / 2]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("protocol: reading node ID randomness: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// ValidNodeID reports whether id is 40 lower-case hex characters.
func ValidNodeID(id string) bool {
	if len(id) != NodeIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
