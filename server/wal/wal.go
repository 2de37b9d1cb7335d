// Package wal is the member's durable Raft log: hard state and entries appended to segment
// files and synced before anything they carry is applied or acknowledged, and the snapshot
// point the log starts after.
//
// Record layout: 4-byte big-endian length n, 4-byte CRC-32C of the payload, then n bytes of
// payload: a type byte followed by a marshalled raftpb message. A snapshot record says the
// log starts after that entry: the state up to it is in the backend.
//
// The log is a run of segment files, 0000000000000000.wal, 0000000000000001.wal, ..., read
// in order as one stream of records. Each segment is zero-filled ahead of its last record (a
// zero length ends its records), so that appending does not change its size and a sync need
// not flush metadata (fdatasync): this takes about a quarter off each sync on ext4. Once the
// next write does not fit in a segment's zeros (16 MiB), the log goes on in the next
// segment, which was created, zero-filled and synced (with its directory) in the
// background: moving to it costs the Raft loop nothing more than a normal write. Every
// segment after the first starts with a header record (its number, and where the previous
// segment's records end) followed by the newest snapshot and hard state, so it stands alone
// once those before it are gone.
//
// A snapshot (Snapshot) is one more record. Once a sync has made it durable, the segments
// whose entries all lie at or before it are removed, oldest first. Nothing is rewritten: an
// earlier version rewrote its one file at a snapshot once it was 12 MiB long, and copying
// the entries after the snapshot stalled every write for 64-113 ms with 4 KiB values.
// Installing a leader's snapshot (Compact) starts a new segment whose header says the log
// starts over there, then removes the others. A log of that version (log.wal) is read as
// segment 0 and renamed to it.
//
// # Torn tail or corruption
//
// A valid record is one we could have written: a length of 1 to maxRecord whose payload lies
// within the file, a known type byte, and a matching CRC-32C. Open reads valid records from
// the start of the file; the first position that does not hold one is the break (normally the
// zero length of the preallocated region). Then it searches every byte offset after the break,
// to the end of the file, for a valid record:
//
//   - none: the break is the end of the log, or the torn tail of a write cut short by a crash.
//     The file is cut at the break and zero-filled ahead again; the log goes on from there.
//   - one: the log is damaged before its end. Open returns an error matching ErrCorrupt that
//     gives both offsets, and leaves the file as it is.
//
// Why: records are only appended, into space that was zero-filled and synced beforehand, and
// a record is acknowledged only after an fdatasync that follows its write. So a crash only
// touches bytes after the last completed sync: it leaves part of those writes (a partial or
// bad record) followed by zeros, and no valid record after the break. A valid record after a
// bad one means bytes were lost or changed after later records were written (a flipped bit,
// a zeroed or lost page, another writer): those later records may have been acknowledged, so
// cutting them off would silently lose committed writes, and Open refuses instead. (The
// checksum covers the payload only, so the search cannot trust the bad record's length to skip
// over it: a damaged length could point past good records.)
//
// One crash does produce that shape: a power loss in the middle of an fdatasync that covers
// several records, after the disk persisted a later page but not an earlier one. Those records
// were never acknowledged, but on disk this looks exactly like a lost page in the middle of the
// log, and we choose to stop rather than guess. If the machine lost power and the bad offset is
// in the last few pages of the log, the operator may cut the last segment there by hand
// (truncate -s OFFSET 00000000000000NN.wal); Open zero-fills ahead again. Likewise a client
// value that happens to contain a valid-looking record inside a torn last record makes Open
// refuse: the error is always the loud one, never a silent cut.
//
// The same holds across segments: only the last segment with records can have a torn tail
// (the log moves on to the next only after its records are synced). A segment's header says
// where the previous segment's records end and which number it has, so a segment that lost
// records at its end, or a segment missing between two, is refused the same way; and the
// entries read must run on without a gap from the snapshot the log starts after. Segments
// after the last one with records are spares made ahead of time, and are removed.
package wal

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

const (
	recEntry     = 1
	recHardState = 2
	recSnapshot  = 3 // the log starts after this snapshot (metadata only)
	recSegment   = 4 // the first record of every segment after the first: segmentHeader

	// legacyName is the log's one file before it had segments: read as segment 0.
	legacyName = "log.wal"
	// maxRecord bounds a record read back, so a corrupt length fails instead of allocating.
	maxRecord = 64 << 20
)

// preallocChunk is how far ahead of its last record a segment is zero-filled, and how much
// it holds before the log moves on to the next (so that no zeros are written for nothing; a
// segment opened again after a restart is zero-filled further, and is cut there too). A
// variable so that tests can make it small.
var preallocChunk int64 = 16 << 20

func segmentName(seq uint64) string { return fmt.Sprintf("%016x.wal", seq) }

// parseSegmentName returns the number in a segment file's name.
func parseSegmentName(name string) (uint64, bool) {
	hex, ok := strings.CutSuffix(name, ".wal")
	if !ok || len(hex) != 16 {
		return 0, false
	}
	seq, err := strconv.ParseUint(hex, 16, 64)
	return seq, err == nil
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is matched by the error Open returns when the log is damaged before its end: a
// valid record follows a bad one, a valid record does not decode, a segment lost records at
// its end or is missing, or the entries have a gap. Open then leaves the files as they are.
// See the package comment.
var ErrCorrupt = errors.New("wal: log corrupt")

// WAL is an open log. It is not safe for concurrent use; the node's Raft loop owns it.
type WAL struct {
	dir   string
	f     *os.File // the segment records are appended to, the last
	seq   uint64   // its number
	off   int64    // end of its last record
	alloc int64    // bytes of it zero-filled and synced
	dirty bool     // written since its last sync
	// maxIndex is the highest entry index written to this segment; closed are the earlier
	// segments still on disk with theirs, oldest first. A segment is removed once a durable
	// snapshot covers all its entries. bufMax is the highest in buf.
	maxIndex, bufMax uint64
	closed           []segment
	snap             raftpb.SnapshotMetadata // the newest snapshot written
	buf              []byte
	// hs is the newest hard state saved. A hard state Save was given without sync is not
	// written at once (unwritten): only the commit index had moved (raft.MustSync), which
	// need not be durable (after a crash Raft learns it again), so it waits for the next
	// write rather than costing a write of its own on every request's path. etcd's WAL
	// likewise keeps such records in its buffer until the next sync.
	hs        raftpb.HardState
	unwritten bool
	// written is the newest hard state in records already written, which a new segment's
	// header repeats; hsInBuf says buf holds hs (written once buf is). The header must not
	// carry the hard state of the write that follows it: its commit index may cover entries
	// of that write, and a torn write would leave a commit index past the last entry, which
	// Raft refuses to start from.
	written raftpb.HardState
	hsInBuf bool
	// spare is the next segment, created, zero-filled and synced with its directory in the
	// background, so that moving on to it costs the Raft loop, which every request in flight
	// waits on, no more than a normal write (zero-filling 16 MiB takes 30-65 ms).
	spare chan filled
	// removing, while not nil, gets how many of the segments in removal release removed in
	// the background (see release).
	removing chan int
	removal  []segment
	// ObserveSync, if set, is told how long each fsync took.
	ObserveSync func(time.Duration)
}

// segment is a closed segment still on disk.
type segment struct{ seq, maxIndex uint64 }

// filled is what a zero-fill in the background made: the file, zero-filled and synced up to
// alloc, or the error that stopped it (f is then the file if it was opened).
type filled struct {
	f     *os.File
	alloc int64
	err   error
}

// prepareSpare makes the next segment in the background.
func (w *WAL) prepareSpare() {
	ch := make(chan filled, 1)
	dir, path, size := w.dir, filepath.Join(w.dir, segmentName(w.seq+1)), preallocChunk
	go func() {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		if err == nil {
			err = zeroFill(f, 0, size)
		}
		if err == nil {
			err = syncDir(dir)
		}
		ch <- filled{f: f, alloc: size, err: err}
	}()
	w.spare = ch
}

// takeSpare returns the next segment, zero-filled up to alloc: normally ready long before it
// is needed (flush starts it when this segment is a third full), else waited for. If there
// is none or it could not be made, a new empty file is made instead.
func (w *WAL) takeSpare() (*os.File, int64, error) {
	if w.spare != nil {
		s := <-w.spare
		w.spare = nil
		if s.err == nil {
			return s.f, s.alloc, nil
		}
		if s.f != nil {
			s.f.Close()
		}
	}
	f, err := os.OpenFile(filepath.Join(w.dir, segmentName(w.seq+1)), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, 0, err
	}
	if err := syncDir(w.dir); err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, 0, nil
}

// dropSpare closes and removes a spare made but not used.
func (w *WAL) dropSpare() {
	if w.spare == nil {
		return
	}
	if s := <-w.spare; s.f != nil {
		s.f.Close()
		os.Remove(s.f.Name())
	}
	w.spare = nil
}

// segmentHeader is the first record of every segment after the first.
type segmentHeader struct {
	seq     uint64 // the segment's number (its name gives it too)
	prevEnd int64  // where the previous segment's records end
	restart bool   // the log starts over here (Compact): the entries before it are void
}

const segmentHeaderSize = 17

func (h *segmentHeader) Size() int { return segmentHeaderSize }

func (h *segmentHeader) MarshalToSizedBuffer(b []byte) (int, error) {
	binary.BigEndian.PutUint64(b, h.seq)
	binary.BigEndian.PutUint64(b[8:], uint64(h.prevEnd))
	b[16] = 0
	if h.restart {
		b[16] = 1
	}
	return segmentHeaderSize, nil
}

func (h *segmentHeader) Unmarshal(b []byte) error {
	if len(b) != segmentHeaderSize || b[16] > 1 {
		return errors.New("bad segment header")
	}
	h.seq = binary.BigEndian.Uint64(b)
	h.prevEnd = int64(binary.BigEndian.Uint64(b[8:]))
	h.restart = b[16] == 1
	return nil
}

// State is what a log held when opened.
type State struct {
	Snapshot  raftpb.SnapshotMetadata
	HardState raftpb.HardState
	Entries   []raftpb.Entry
}

// Exists reports whether dir holds a log.
func Exists(dir string) bool {
	segs, err := listSegments(dir)
	return err == nil && len(segs) > 0
}

// segFile is a segment Open found.
type segFile struct {
	seq      uint64
	name     string
	f        *os.File
	end      int64 // where its records end
	recs     int   // how many it holds
	maxIndex uint64
	hdr      *segmentHeader // its first record, if that is a header
	// restarted: a restart header (Compact) and the snapshot after it were read, so the
	// entries before them are void. A restart header whose snapshot was torn off voids
	// nothing: that Compact never finished.
	restarted bool
}

// listSegments returns the segments in dir in order: a legacy log.wal as segment 0. A
// log.wal beside segments that holds no record is what an earlier build leaves when it
// refuses a data dir whose log it cannot read ("a store but no log"): it is ignored.
func listSegments(dir string) ([]*segFile, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []*segFile
	for _, de := range des {
		if seq, ok := parseSegmentName(de.Name()); ok {
			segs = append(segs, &segFile{seq: seq, name: de.Name()})
		}
	}
	slices.SortFunc(segs, func(a, b *segFile) int { return cmp.Compare(a.seq, b.seq) })
	if _, err := os.Stat(filepath.Join(dir, legacyName)); err == nil {
		if len(segs) == 0 {
			return []*segFile{{seq: 0, name: legacyName}}, nil
		}
		if empty, err := holdsNoRecord(filepath.Join(dir, legacyName)); err != nil || !empty {
			return nil, fmt.Errorf("wal: %s holds both %s and segments", dir, legacyName)
		}
	}
	return segs, nil
}

// holdsNoRecord reports whether the file at path holds no valid record anywhere.
func holdsNoRecord(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	at, err := findRecord(f, 0, fi.Size())
	return at < 0, err
}

// Open opens (creating if needed) the log in dir and reads it back.
func Open(dir string) (*WAL, State, error) {
	var st State
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, st, err
	}
	segs, err := listSegments(dir)
	if err != nil {
		return nil, st, err
	}
	if len(segs) == 0 {
		segs = []*segFile{{seq: 0, name: segmentName(0)}}
	}
	opened := false
	defer func() {
		if !opened {
			for _, s := range segs {
				if s.f != nil {
					s.f.Close()
				}
			}
		}
	}()
	var prev *segFile
	for _, s := range segs {
		path := filepath.Join(dir, s.name)
		if s.f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err != nil {
			return nil, State{}, err
		}
		if err := read(s, &st); err != nil {
			return nil, State{}, fmt.Errorf("%s: %w", path, err)
		}
		if err := follows(prev, s); err != nil {
			return nil, State{}, fmt.Errorf("%s: %w", path, err)
		}
		prev = s
	}
	if err := contiguous(st); err != nil {
		return nil, State{}, fmt.Errorf("%s: %w", dir, err)
	}

	// The log is whole: now files may change. The last segment with records is the one
	// appended to; any after it are spares made ahead of time.
	a := 0
	for i, s := range segs {
		if s.recs > 0 {
			a = i
		}
	}
	for _, s := range segs[a+1:] {
		path := s.f.Name()
		s.f.Close()
		s.f = nil
		if err := os.Remove(path); err != nil {
			return nil, State{}, err
		}
	}
	segs = segs[:a+1]
	if segs[0].name == legacyName {
		if err := os.Rename(filepath.Join(dir, legacyName), filepath.Join(dir, segmentName(0))); err != nil {
			return nil, State{}, err
		}
		segs[0].name = segmentName(0)
	}
	// The legacy log's spares, and an empty log.wal beside segments (see listSegments).
	for _, leftover := range []string{legacyName + ".spare", legacyName + ".tmp", legacyName} {
		os.Remove(filepath.Join(dir, leftover))
	}
	act := segs[a]
	// Cut a torn tail (nothing valid follows it: see read), then zero-fill ahead of the last
	// good record.
	if err := act.f.Truncate(act.end); err != nil {
		return nil, State{}, err
	}
	w := &WAL{dir: dir, f: act.f, seq: act.seq, off: act.end, alloc: act.end, maxIndex: act.maxIndex,
		hs: st.HardState, written: st.HardState, snap: st.Snapshot}
	void := 0 // segments before one that starts the log over (Compact) hold nothing
	for i, s := range segs[:a+1] {
		if s.restarted {
			void = i
		}
	}
	for i, s := range segs[:a] {
		s.f.Close()
		s.f = nil
		if i < void {
			s.maxIndex = 0
		}
		w.closed = append(w.closed, segment{s.seq, s.maxIndex})
	}
	opened = true
	// The zero-fill syncs the segment with the records read back, so the snapshot among them
	// is durable before release removes what it covers.
	if err := w.extend(act.end + preallocChunk); err != nil {
		w.f.Close()
		return nil, st, err
	}
	if err := syncDir(dir); err != nil {
		w.f.Close()
		return nil, st, err
	}
	w.release(st.Snapshot.Index)
	return w, st, nil
}

// follows checks that segment s, if it holds records, takes the log on from prev (nil if s
// is the first): its header names it, and says prev's records end where they do.
func follows(prev, s *segFile) error {
	if s.recs == 0 {
		return nil // a spare: Open removes it, unless a segment with records follows
	}
	h := s.hdr
	if h != nil && h.seq != s.seq {
		return fmt.Errorf("%w: the header at offset 0 names segment %d", ErrCorrupt, h.seq)
	}
	if prev == nil || s.restarted {
		return nil
	}
	switch {
	case h == nil:
		return fmt.Errorf("%w: no segment header at offset 0, though %s comes before", ErrCorrupt, prev.name)
	case prev.seq+1 != s.seq:
		return fmt.Errorf("%w: the segment before it, %s, is missing (at offset 0 the header follows segment %d)",
			ErrCorrupt, segmentName(s.seq-1), s.seq-1)
	case prev.end != h.prevEnd:
		return fmt.Errorf("%w: the header at offset 0 says %s's records end at offset %d, but they end at offset %d",
			ErrCorrupt, prev.name, h.prevEnd, prev.end)
	}
	return nil
}

// contiguous checks that the entries run on from the snapshot without a gap (a segment
// removed that held entries no snapshot covers).
func contiguous(st State) error {
	next := st.Snapshot.Index + 1
	for _, e := range st.Entries {
		if e.Index != next {
			return fmt.Errorf("%w: entry %d follows entry %d (records lost)", ErrCorrupt, e.Index, next-1)
		}
		next++
	}
	return nil
}

// extend zero-fills the segment up to size and syncs it.
func (w *WAL) extend(size int64) error {
	if err := zeroFill(w.f, w.alloc, size); err != nil {
		return err
	}
	w.alloc = max(w.alloc, size)
	return nil
}

// zeroFill writes zeros from from to to and syncs f. It writes a page at a time: the page
// cache keeps the size it was written in, and Linux (6.x, ext4) gives a large write large
// folios; each later record written into one then dirties the whole folio, and a process's
// bytes written (/proc/PID/io, what iotop and node exporters show) counted 1 MiB per fsync,
// 1.2 GB/s under 15,000 puts/s, though the disk got only the dirty blocks.
func zeroFill(f *os.File, from, to int64) error {
	zeros := make([]byte, 4096)
	for from < to {
		n := min(int64(len(zeros)), to-from)
		if _, err := f.WriteAt(zeros[:n], from); err != nil {
			return err
		}
		from += n
	}
	return f.Sync()
}

// read replays every valid record of segment s from its start into st, and sets where they
// end (the break), how many there are and the highest entry index among them; it returns an
// error matching ErrCorrupt if a valid record follows the break, or a valid record does not
// decode (see the package comment).
func read(s *segFile, st *State) error {
	fi, err := s.f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	r := bufio.NewReaderSize(io.NewSectionReader(s.f, 0, size), 1<<20)
	var off int64
	var hdr [8]byte
	for off+8 <= size {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return err
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		if n == 0 || n > maxRecord || off+8+int64(n) > size {
			break
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return err
		}
		if crc32.Checksum(payload, crcTable) != binary.BigEndian.Uint32(hdr[4:]) {
			break
		}
		if err := apply(st, s, off, payload); err != nil {
			return fmt.Errorf("%w: record at offset %d passes its checksum but does not decode: %v", ErrCorrupt, off, err)
		}
		s.recs++
		off += 8 + int64(n)
	}
	next, err := findRecord(s.f, off+1, size)
	if err != nil {
		return err
	}
	if next >= 0 {
		return fmt.Errorf("%w: no valid record at offset %d, but one at offset %d after it; "+
			"the file is left as it is (cutting it at %d would drop every record after)", ErrCorrupt, off, next, off)
	}
	s.end = off
	return nil
}

// findRecord returns the first offset at or after from, below size, where a valid record
// starts (a length of 1 to maxRecord within the file, a known type, a matching checksum), or
// -1 if there is none. It reads f a window at a time and skips runs of zeros quickly, since
// after the end of a log it normally finds only the preallocated zeros.
func findRecord(f io.ReaderAt, from, size int64) (int64, error) {
	const window = 1 << 20
	buf := make([]byte, window+8) // a window and the header of a record starting at its end
	var scratch []byte
	for base := from; base+8 <= size; base += window {
		b := buf[:min(int64(len(buf)), size-base)]
		if _, err := f.ReadAt(b, base); err != nil && err != io.EOF {
			return -1, err
		}
		for i := 0; i < window && i+8 <= len(b); i++ {
			n := binary.BigEndian.Uint32(b[i:])
			if n == 0 {
				// No record starts where its length's four bytes are zero: skip to three
				// bytes before the next nonzero byte.
				j := i + 4
				for j+8 <= len(b) && binary.LittleEndian.Uint64(b[j:]) == 0 {
					j += 8
				}
				for j < len(b) && b[j] == 0 {
					j++
				}
				i = j - 4 // the loop's i++ makes it j-3
				continue
			}
			o := base + int64(i)
			if n > maxRecord || o+8+int64(n) > size {
				continue
			}
			var p []byte
			if i+8+int(n) <= len(b) {
				p = b[i+8 : i+8+int(n)]
			} else {
				if cap(scratch) < int(n) {
					scratch = make([]byte, n)
				}
				p = scratch[:n]
				if _, err := f.ReadAt(p[:1], o+8); err != nil {
					return -1, err
				}
				if !knownType(p[0]) {
					continue
				}
				if _, err := f.ReadAt(p, o+8); err != nil {
					return -1, err
				}
			}
			if knownType(p[0]) && crc32.Checksum(p, crcTable) == binary.BigEndian.Uint32(b[i+4:]) {
				return o, nil
			}
		}
	}
	return -1, nil
}

func knownType(t byte) bool { return t >= recEntry && t <= recSegment }

// apply replays the record p, at offset off of segment s, into st.
func apply(st *State, s *segFile, off int64, p []byte) error {
	switch p[0] {
	case recEntry:
		var e raftpb.Entry
		if err := e.Unmarshal(p[1:]); err != nil {
			return err
		}
		s.maxIndex = max(s.maxIndex, e.Index)
		// A later entry at an index replaces it and everything after (a Raft log overwrite).
		for len(st.Entries) > 0 && st.Entries[len(st.Entries)-1].Index >= e.Index {
			st.Entries = st.Entries[:len(st.Entries)-1]
		}
		if e.Index > st.Snapshot.Index {
			st.Entries = append(st.Entries, e)
		}
	case recHardState:
		return st.HardState.Unmarshal(p[1:])
	case recSnapshot:
		var m raftpb.SnapshotMetadata
		if err := m.Unmarshal(p[1:]); err != nil {
			return err
		}
		st.Snapshot = m
		if s.hdr != nil && s.hdr.restart && !s.restarted {
			st.Entries, s.restarted = nil, true
		}
		for len(st.Entries) > 0 && st.Entries[0].Index <= m.Index {
			st.Entries = st.Entries[1:]
		}
	case recSegment:
		var h segmentHeader
		if err := h.Unmarshal(p[1:]); err != nil {
			return err
		}
		if off != 0 {
			return errors.New("a segment header not at the start of its segment")
		}
		s.hdr = &h
	default:
		return fmt.Errorf("unknown record type %d", p[0])
	}
	return nil
}

type marshaler interface {
	Size() int
	MarshalToSizedBuffer([]byte) (int, error)
}

// appendRecord encodes a record onto b.
func appendRecord(b []byte, typ byte, m marshaler) ([]byte, error) {
	n := m.Size() + 1
	start := len(b)
	b = append(b, make([]byte, 8+n)...)
	r := b[start:]
	r[8] = typ
	if _, err := m.MarshalToSizedBuffer(r[9:]); err != nil {
		return b[:start], err
	}
	binary.BigEndian.PutUint32(r[:4], uint32(n))
	binary.BigEndian.PutUint32(r[4:8], crc32.Checksum(r[8:], crcTable))
	return b, nil
}

// append encodes a record onto w.buf.
func (w *WAL) append(typ byte, m marshaler) (err error) {
	w.buf, err = appendRecord(w.buf, typ, m)
	return err
}

// appendEntry encodes an entry onto w.buf.
func (w *WAL) appendEntry(e *raftpb.Entry) error {
	w.bufMax = max(w.bufMax, e.Index)
	return w.append(recEntry, e)
}

// flush writes w.buf at the end of the log: in the next segment if this one holds
// preallocChunk or the write does not fit in its zeros.
func (w *WAL) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	if w.off > 0 && (w.off >= preallocChunk || w.off+int64(len(w.buf))+8 > w.alloc) {
		if err := w.cut(false); err != nil {
			return err
		}
	}
	end := w.off + int64(len(w.buf)) + 8 // and the zero length after it
	if end > w.alloc {
		// One write larger than a segment's zeros, or a spare that could not be made.
		if err := w.extend(end + preallocChunk); err != nil {
			return err
		}
	}
	if w.spare == nil && end > preallocChunk/3 {
		w.prepareSpare()
	}
	if _, err := w.f.WriteAt(w.buf, w.off); err != nil {
		return err
	}
	w.off += int64(len(w.buf))
	w.buf = w.buf[:0]
	w.maxIndex, w.bufMax = max(w.maxIndex, w.bufMax), 0
	if w.hsInBuf {
		w.written, w.hsInBuf = w.hs, false // hs does not change between its append and here
	}
	w.dirty = true
	return nil
}

// cut moves the log on to the next segment. This one's records are synced first, so that
// only the last segment can have a torn tail. The next starts with its header, the newest
// snapshot and the newest hard state, put ahead of w.buf.
func (w *WAL) cut(restart bool) error {
	if w.dirty {
		if err := w.sync(); err != nil {
			return err
		}
	}
	f, alloc, err := w.takeSpare()
	if err != nil {
		return fmt.Errorf("wal: next segment: %w", err)
	}
	hdr, err := appendRecord(nil, recSegment, &segmentHeader{seq: w.seq + 1, prevEnd: w.off, restart: restart})
	if err == nil && (w.snap.Index > 0 || restart) {
		hdr, err = appendRecord(hdr, recSnapshot, &w.snap)
	}
	// A restart's hard state comes after the entries (Compact).
	if err == nil && !restart && !isEmptyHardState(w.written) {
		hdr, err = appendRecord(hdr, recHardState, &w.written)
	}
	if err != nil {
		f.Close()
		return err
	}
	w.f.Close() // its records are synced
	w.closed = append(w.closed, segment{w.seq, w.maxIndex})
	w.f, w.seq, w.off, w.alloc, w.maxIndex, w.dirty = f, w.seq+1, 0, alloc, 0, false
	w.buf = append(hdr, w.buf...)
	return nil
}

// sync makes what was written durable.
func (w *WAL) sync() error {
	start := time.Now()
	err := fdatasync(w.f)
	if w.ObserveSync != nil {
		w.ObserveSync(time.Since(start))
	}
	if err == nil {
		w.dirty = false
	}
	return err
}

// release removes the closed segments, oldest first, whose entries a durable snapshot at
// index covers. It removes them in the background (unlinking a 16 MiB segment took 9-10 ms
// here, which every request in flight would wait for), one removal at a time. A segment it
// cannot remove stops it there, and it and those after it go back to closed, to be tried
// again, so that what is on disk is always a run of segments.
func (w *WAL) release(index uint64) {
	if w.removing != nil {
		select {
		case n := <-w.removing:
			w.removed(n)
		default:
			return // the next release takes these too
		}
	}
	k := 0
	for k < len(w.closed) && w.closed[k].maxIndex <= index {
		k++
	}
	if k == 0 {
		return
	}
	w.removal, w.closed = w.closed[:k:k], w.closed[k:]
	ch, dir, segs := make(chan int, 1), w.dir, w.removal
	w.removing = ch
	go func() {
		n := 0
		for n < len(segs) {
			err := os.Remove(filepath.Join(dir, segmentName(segs[n].seq)))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				break
			}
			n++
		}
		if n > 0 {
			syncDir(dir) // best effort: a removal lost to a power cut is redone by the next Open
		}
		ch <- n
	}()
}

// removed takes the result of the removal in the background: n of w.removal are gone, and
// the rest go back to the front of closed.
func (w *WAL) removed(n int) {
	w.closed = slices.Concat(w.removal[n:], w.closed)
	w.removing, w.removal = nil, nil
}

// waitRemoval waits for the removal in the background, if any.
func (w *WAL) waitRemoval() {
	if w.removing != nil {
		w.removed(<-w.removing)
	}
}

// Save appends the entries and, if it is not empty, the hard state; with sync it flushes
// and fsyncs before returning, so that the caller may then acknowledge them. Without sync
// and without entries (only the commit index moved) it writes nothing yet: see WAL.hs.
func (w *WAL) Save(hs raftpb.HardState, ents []raftpb.Entry, sync bool) error {
	if !sync && len(ents) == 0 {
		w.keep(hs)
		return nil
	}
	for i := range ents {
		if err := w.appendEntry(&ents[i]); err != nil {
			return err
		}
	}
	if err := w.appendHardState(hs); err != nil {
		return err
	}
	if err := w.flush(); err != nil {
		return err
	}
	if !sync {
		return nil
	}
	if err := w.sync(); err != nil {
		return err
	}
	w.release(w.snap.Index)
	return nil
}

// keep makes hs, unless it is empty, the newest hard state, not written yet (Raft's hard
// states are cumulative: a newer one supersedes an unwritten one).
func (w *WAL) keep(hs raftpb.HardState) {
	if !isEmptyHardState(hs) {
		w.hs, w.unwritten = hs, true
	}
}

// appendHardState appends hs if it is not empty, else the unwritten one if any.
func (w *WAL) appendHardState(hs raftpb.HardState) error {
	w.keep(hs)
	if !w.unwritten {
		return nil
	}
	w.unwritten = false
	w.hsInBuf = true
	return w.append(recHardState, &w.hs)
}

func isEmptyHardState(hs raftpb.HardState) bool {
	return hs.Term == 0 && hs.Vote == 0 && hs.Commit == 0
}

// Snapshot records that the log may start after meta: one more record, written now and
// synced by the next Save; the segments it covers are removed after that sync. If the
// record is lost, the log merely starts earlier.
func (w *WAL) Snapshot(meta raftpb.SnapshotMetadata) error {
	if err := w.appendHardState(raftpb.HardState{}); err != nil {
		return err
	}
	if err := w.append(recSnapshot, &meta); err != nil {
		return err
	}
	if err := w.flush(); err != nil {
		return err
	}
	w.snap = meta
	return nil
}

// Compact makes the log start after snapshot meta at once and durably: a new segment says
// the log starts over with meta, then holds the entries of ents after meta.Index and the
// hard state (after the entries its commit index may cover); the segments before it are
// removed.
func (w *WAL) Compact(meta raftpb.SnapshotMetadata, hs raftpb.HardState, ents []raftpb.Entry) error {
	if err := w.flush(); err != nil {
		return err
	}
	w.waitRemoval()
	old := w.snap
	w.snap = meta
	err := w.cut(true)
	for i := range ents {
		if err == nil && ents[i].Index > meta.Index {
			err = w.appendEntry(&ents[i])
		}
	}
	w.keep(hs)
	w.unwritten = !isEmptyHardState(w.hs) // the new segment must hold the term and vote too
	if err == nil {
		err = w.appendHardState(raftpb.HardState{})
	}
	if err == nil {
		err = w.flush()
	}
	if err == nil {
		err = w.sync()
	}
	if err != nil {
		w.snap = old
		return fmt.Errorf("wal: compact: %w", err)
	}
	for i := range w.closed {
		w.closed[i].maxIndex = 0 // void: the new segment starts the log over
	}
	w.release(0)
	return nil
}

// Close writes an unwritten hard state and closes the log.
func (w *WAL) Close() error {
	err := w.appendHardState(raftpb.HardState{})
	if err == nil {
		err = w.flush()
	}
	w.dropSpare()
	w.waitRemoval()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}
