package snapfile

import (
	"bytes"
	"strings"
	"testing"
)

// TestLoad: a MetaStore file loads as it is (etcd's files are tested with a real etcd in
// tests/differential); a file that is neither MetaStore's nor etcd's is refused saying so.
func TestLoad(t *testing.T) {
	snap := coreSnapshot(t)
	s, err := Load(saved(t, snap), false)
	if err != nil || s.Etcd != nil || !bytes.Equal(s.Core, snap) {
		t.Fatalf("MetaStore file: %+v, %v", s, err)
	}
	if _, err := Load(bytes.Repeat([]byte{1}, 512), true); err == nil || !strings.Contains(err.Error(), "nor an etcd db") {
		t.Fatalf("neither: %v", err)
	}
	// A bbolt-looking header is not enough: the file must be etcd's.
	fake := make([]byte, 8192)
	copy(fake[16:], []byte{0xed, 0xda, 0x0c, 0xed, 2, 0, 0, 0})
	if _, err := Load(fake, true); err == nil {
		t.Fatal("a damaged bbolt header loaded")
	}
}
