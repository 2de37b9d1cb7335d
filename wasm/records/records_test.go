package records

import (
	"bytes"
	"errors"
	"testing"
)

func TestEach(t *testing.T) {
	two := Append(Append(nil, []byte("a"), []byte("1")), []byte("bb"), nil)
	stop := errors.New("stop")
	for _, tc := range []struct {
		name string
		in   []byte
		fail error // fn's answer
		want []string
		err  string
	}{
		{"empty", nil, nil, nil, ""},
		{"two", two, nil, []string{"a=1", "bb="}, ""},
		{"cut value", append(Append(nil, []byte("a"), []byte("1")), 1, 'k', 5, 'v'), nil, []string{"a=1"}, "record 1 is cut short"},
		{"cut key", []byte{3, 'a'}, nil, nil, "record 0 is cut short"},
		{"bad varint", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, nil, nil, "record 0 is cut short"},
		{"huge length", []byte{0xff, 0xff, 0xff, 0xff, 0x0f, 'a'}, nil, nil, "record 0 is cut short"},
		{"fn stops", two, stop, []string{"a=1"}, "stop"},
	} {
		var got []string
		err := Each(tc.in, func(k, v []byte) error {
			got = append(got, string(k)+"="+string(v))
			return tc.fail
		})
		if (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) || len(got) != len(tc.want) {
			t.Fatalf("%s: got %q, %v; want %q, %q", tc.name, got, err, tc.want, tc.err)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Fatalf("%s: got %q, want %q", tc.name, got, tc.want)
			}
		}
	}
}

// FuzzEach: any bytes decode without panicking; the records decoded (whatever the varints'
// spelling) encode to bytes that decode to the same records.
func FuzzEach(f *testing.F) {
	f.Add(Append(Append(nil, []byte("key"), []byte("value")), nil, []byte{0}))
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		var recs [][]byte
		var again []byte
		err := Each(b, func(k, v []byte) error {
			recs = append(recs, k, v)
			again = Append(again, k, v)
			return nil
		})
		if err == nil && len(again) > len(b) {
			t.Fatalf("%x: records longer than their bytes", b)
		}
		i := 0
		if err := Each(again, func(k, v []byte) error {
			if !bytes.Equal(k, recs[i]) || !bytes.Equal(v, recs[i+1]) {
				t.Fatalf("%x: record %d re-decodes as %q=%q, not %q=%q", b, i/2, k, v, recs[i], recs[i+1])
			}
			i += 2
			return nil
		}); err != nil || i != len(recs) {
			t.Fatalf("%x: re-encoded records do not decode back (%v, %d of %d)", b, err, i/2, len(recs)/2)
		}
	})
}
