package core

import (
	"hash/crc32"
	"io"
)

// sumReader reads through a buffer (it is the io.ByteReader the record decoders want) and
// keeps the CRC-32C of the bytes consumed so far, not of those read ahead: a snapshot's
// checksum covers everything before it, and the reader must not have summed the checksum
// itself when it is read.
type sumReader struct {
	r      io.Reader
	buf    []byte
	pos    int // buf[pos:end] is read ahead, not consumed
	end    int
	summed int // buf[summed:pos] is consumed but not summed yet
	crc    uint32
	err    error
}

func newSumReader(r io.Reader) *sumReader { return &sumReader{r: r, buf: make([]byte, 64<<10)} }

// Sum32 is the checksum of every byte consumed.
func (s *sumReader) Sum32() uint32 {
	s.crc = crc32.Update(s.crc, castagnoli, s.buf[s.summed:s.pos])
	s.summed = s.pos
	return s.crc
}

// fill reads more into the buffer once it is all consumed; false at the end or on error.
func (s *sumReader) fill() bool {
	s.Sum32()
	for s.err == nil {
		n, err := s.r.Read(s.buf)
		s.pos, s.end, s.summed, s.err = 0, n, 0, err
		if n > 0 {
			return true
		}
	}
	return false
}

func (s *sumReader) ReadByte() (byte, error) {
	if s.pos == s.end && !s.fill() {
		return 0, s.err
	}
	b := s.buf[s.pos]
	s.pos++
	return b, nil
}

func (s *sumReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.pos == s.end && !s.fill() {
		return 0, s.err
	}
	n := copy(p, s.buf[s.pos:s.end])
	s.pos += n
	return n, nil
}
