// Package records is the bulk format of the wasm bridge's putMany: key/value pairs laid end
// to end, each field a uvarint length and then its bytes. Plain Go, so it is fuzzed natively.
package records

import (
	"encoding/binary"
	"fmt"
)

// Append adds one key/value record to dst.
func Append(dst, key, value []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = append(dst, key...)
	dst = binary.AppendUvarint(dst, uint64(len(value)))
	return append(dst, value...)
}

// Each calls fn with every record of b in order (key and value alias b), and stops at fn's
// first error, which it returns. Bytes that do not end on a whole record give an error
// naming the record, after fn has seen the whole ones before it.
func Each(b []byte, fn func(key, value []byte) error) error {
	for i := 0; len(b) > 0; i++ {
		key, rest, ok := field(b)
		var value []byte
		if ok {
			value, rest, ok = field(rest)
		}
		if !ok {
			return fmt.Errorf("record %d is cut short", i)
		}
		if err := fn(key, value); err != nil {
			return err
		}
		b = rest
	}
	return nil
}

// field splits a uvarint-length-prefixed field off b.
func field(b []byte) (f, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, b, false
	}
	return b[k : k+int(n)], b[k+int(n):], true
}
