package snapfile

import (
	"bytes"
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

func saved(snap []byte) []byte {
	body, sum := Frame(snap)
	return append(body, sum[:]...)
}

func TestParse(t *testing.T) {
	snap := coreSnapshot(t)
	file := saved(snap)
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
	st, err := ReadStatus(file, false, "3.6.0")
	if err != nil || st.Revision != 4 || st.TotalKey != 2 || st.TotalSize != int64(len(file)) || st.Hash == 0 {
		t.Fatalf("status %+v, %v", st, err)
	}
}

// FuzzParse: any file is described or refused, never a panic.
func FuzzParse(f *testing.F) {
	file := saved(coreSnapshot(f))
	f.Add(file)
	f.Add(file[:len(file)-32])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ReadStatus(b, true, "x")
		ReadStatus(b, false, "x")
	})
}
