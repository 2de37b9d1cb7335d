package snapfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/backend"
)

func coreSnapshot(t testing.TB) []byte {
	s, err := core.New(core.Config{Backend: backend.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, k := range []string{"a", "b", "a"} {
		if _, err := s.Put(&core.PutRequest{Key: []byte(k), Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := s.WriteSnapshot(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// saved is the file `etcdctl snapshot save` writes: the spooled body, then its SHA-256.
func saved(t testing.TB, snap []byte) []byte {
	t.Helper()
	f, _, err := Spool(t.TempDir(), func(w io.Writer) error { _, err := w.Write(snap); return err })
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	body, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	return append(body, sum[:]...)
}

func TestParse(t *testing.T) {
	snap := coreSnapshot(t)
	file := saved(t, snap)
	if len(file)%512 != 32 {
		t.Fatalf("a saved file is %d bytes: etcd finds its hash only 32 bytes past a multiple of 512", len(file))
	}
	got, err := Parse(file, false)
	if err != nil || !bytes.Equal(got, snap) {
		t.Fatalf("round trip: %v", err)
	}
	flipped := bytes.Clone(file)
	flipped[20] ^= 1
	noHash := file[:len(file)-32]
	for name, c := range map[string]struct {
		file []byte
		skip bool
	}{
		"flipped":         {flipped, false},
		"no hash":         {noHash, false},
		"truncated":       {file[:len(file)-1], false},
		"empty":           {nil, true},
		"not ours":        {append(make([]byte, 8), bytes.Repeat([]byte{1}, 504)...), true},
		"length too long": {append([]byte{0, 0, 0, 0, 0, 1, 0, 0}, noHash[8:]...), true},
	} {
		if _, err := Parse(c.file, c.skip); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	if got, err := Parse(noHash, true); err != nil || !bytes.Equal(got, snap) {
		t.Fatalf("without a hash, skipping the check: %v", err)
	}
	st, err := ReadStatus(file, false, "3.6.0", backend.NewMemory())
	if err != nil || st.Revision != 4 || st.TotalKey != 2 || st.TotalSize != int64(len(file)) || st.Hash == 0 {
		t.Fatalf("status %+v, %v", st, err)
	}
}

// FuzzParse: any file is described or refused, never a panic.
func FuzzParse(f *testing.F) {
	file := saved(f, coreSnapshot(f))
	f.Add(file)
	f.Add(file[:len(file)-32])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ReadStatus(b, true, "x", backend.NewMemory())
		ReadStatus(b, false, "x", backend.NewMemory())
	})
}

// TestSpoolLayout: the length, the snapshot, zeros to a multiple of 512, for sizes around
// the boundary; a failed write leaves no file behind.
func TestSpoolLayout(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 503, 504, 505, 1016, 3000} {
		snap := bytes.Repeat([]byte{0xa5}, n)
		f, size, err := Spool(dir, func(w io.Writer) error { _, err := w.Write(snap); return err })
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(f)
		f.Close()
		os.Remove(f.Name())
		if int64(len(body)) != size || size%512 != 0 || size < int64(8+n) || size >= int64(8+n+512) {
			t.Fatalf("%d bytes: spooled %d (reported %d)", n, len(body), size)
		}
		if binary.BigEndian.Uint64(body) != uint64(n) || !bytes.Equal(body[8:8+n], snap) || bytes.ContainsFunc(body[8+n:], func(r rune) bool { return r != 0 }) {
			t.Fatalf("%d bytes: wrong layout", n)
		}
	}
	errWrite := errors.New("encoding failed")
	if _, _, err := Spool(dir, func(io.Writer) error { return errWrite }); !errors.Is(err, errWrite) {
		t.Fatalf("a failed write: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("files left behind: %v", left)
	}
}
