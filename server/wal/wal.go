// Package wal is the member's durable Raft log: hard state and entries appended to one file
// and synced before anything they carry is applied or acknowledged, and the snapshot point
// the log starts after.
//
// Record layout: 4-byte big-endian length n, 4-byte CRC-32C of the payload, then n bytes of
// payload: a type byte followed by a marshalled raftpb message. A snapshot record says the
// log starts after that entry: the state up to it is in the backend.
//
// The file is kept preallocated with zeros ahead of the last record (a zero length ends the
// log), so that appending does not change its size and a sync need not flush metadata
// (fdatasync): this takes about a quarter off each sync on ext4. A log that nears the end of
// the zeros (large values, or many entries between snapshots) gets more in the background.
//
// A snapshot (Snapshot) is normally one more record: Open drops the entries before it. Only
// once the log is 12 MiB long (three quarters of the 16 MiB a new file is zero-filled to) is
// it rewritten (Compact), into a spare file
// (log.wal.spare) zero-filled in the background beforehand. A rewrite costs the Raft loop a
// sync of the new file, a rename and a sync of the directory, which every request in flight
// waits for: at every snapshot (each 10,000 entries) that showed in the p99 latency.
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
// in the last few pages of the log, the operator may cut the file there by hand (truncate -s
// OFFSET log.wal); Open zero-fills ahead again. Likewise a client value that happens to contain
// a valid-looking record inside a torn last record makes Open refuse: the error is always the
// loud one, never a silent cut.
package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

const (
	recEntry     = 1
	recHardState = 2
	recSnapshot  = 3 // the log starts after this snapshot (metadata only)

	fileName = "log.wal"
	// maxRecord bounds a record read back, so a corrupt length fails instead of allocating.
	maxRecord = 64 << 20
)

// preallocChunk is how far ahead of the last record the file is zero-filled (a variable so
// that the fuzz test can make it small).
var preallocChunk int64 = 16 << 20

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is matched by the error Open returns when the log is damaged before its end: a
// valid record follows a bad one, or a valid record does not decode. Open then leaves the file
// as it is. See the package comment.
var ErrCorrupt = errors.New("wal: log corrupt")

// WAL is an open log. It is not safe for concurrent use; the node's Raft loop owns it.
type WAL struct {
	dir   string
	f     *os.File
	off   int64 // end of the last record
	alloc int64 // bytes of the file zero-filled so far
	buf   []byte
	// hs is the newest hard state saved. A hard state Save was given without sync is not
	// written at once (unwritten): only the commit index had moved (raft.MustSync), which
	// need not be durable (after a crash Raft learns it again), so it waits for the next
	// write rather than costing a write of its own on every request's path. etcd's WAL
	// likewise keeps such records in its buffer until the next sync.
	hs        raftpb.HardState
	unwritten bool
	// spare is the next log file, zero-filled and synced in the background so that Compact,
	// which the Raft loop waits on, need not zero-fill one itself (tens of milliseconds that
	// every request in flight would wait).
	spare chan filled
	// grow, while not nil, is the zero-filling of the next chunk in the background: done in
	// the Raft loop it took 30-65 ms every 16 MiB of log, which every request in flight
	// waited for (with 4 KiB values, several times a second).
	grow chan filled
	// ObserveSync, if set, is told how long each fsync took.
	ObserveSync func(time.Duration)
}

// filled is what a zero-fill in the background made: the file, zero-filled and synced up to
// alloc, or the error that stopped it (f is then the file if it was opened).
type filled struct {
	f     *os.File
	alloc int64
	err   error
}

// fillAsync opens a file and zero-fills it from from to to, in the background.
func fillAsync(open func() (*os.File, error), from, to int64) chan filled {
	ch := make(chan filled, 1)
	go func() {
		f, err := open()
		if err == nil {
			err = zeroFill(f, from, to)
		}
		if err != nil {
			ch <- filled{f: f, err: err}
			return
		}
		ch <- filled{f: f, alloc: to}
	}()
	return ch
}

const spareName = fileName + ".spare"

// prepareSpare zero-fills a new spare file in the background.
func (w *WAL) prepareSpare() {
	w.spare = fillAsync(func() (*os.File, error) {
		return os.OpenFile(filepath.Join(w.dir, spareName), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	}, 0, preallocChunk)
}

// takeSpare returns the spare file, zero-filled up to alloc: normally ready long before it is
// needed (Snapshot starts it when the file is half full), else waited for. If there is none
// or it could not be made, a new empty file is returned instead.
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
	f, err := os.OpenFile(filepath.Join(w.dir, fileName+".tmp"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	return f, 0, err
}

// State is what a log held when opened.
type State struct {
	Snapshot  raftpb.SnapshotMetadata
	HardState raftpb.HardState
	Entries   []raftpb.Entry
}

// Exists reports whether dir holds a log.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, fileName))
	return err == nil
}

// Open opens (creating if needed) the log in dir and reads it back.
func Open(dir string) (*WAL, State, error) {
	var st State
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, st, err
	}
	path := filepath.Join(dir, fileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, st, err
	}
	good, err := read(f, &st)
	if err != nil {
		f.Close()
		return nil, State{}, fmt.Errorf("%s: %w", path, err)
	}
	// Cut a torn tail (nothing valid follows it: see read), then zero-fill ahead of the last
	// good record.
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, st, err
	}
	w := &WAL{dir: dir, f: f, off: good, alloc: good, hs: st.HardState}
	if err := w.extend(good + preallocChunk); err != nil {
		f.Close()
		return nil, st, err
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, st, err
	}
	return w, st, nil
}

// extend zero-fills the file up to size and syncs it.
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

// growStep is how much growAhead adds: less than a whole chunk, since most logs are
// rewritten (Snapshot) before they need more room, and what they did not use was written
// for nothing.
func growStep() int64 { return preallocChunk / 4 }

// growAhead starts zero-filling the chunk after the file's zero-filled part in the
// background, unless that is under way. Records keep going into the part already synced.
func (w *WAL) growAhead() {
	if w.grow == nil {
		f := w.f
		w.grow = fillAsync(func() (*os.File, error) { return f, nil }, w.alloc, w.alloc+growStep())
	}
}

// grown takes what the background zero-fill reached: waiting for it if wait, else only if
// it is done.
func (w *WAL) grown(wait bool) error {
	if w.grow == nil {
		return nil
	}
	var g filled
	if wait {
		g = <-w.grow
	} else {
		select {
		case g = <-w.grow:
		default:
			return nil
		}
	}
	w.grow = nil
	if g.err != nil {
		return fmt.Errorf("wal: zero-fill ahead: %w", g.err)
	}
	w.alloc = max(w.alloc, g.alloc)
	return nil
}

// read replays every valid record from the start of f into st, and returns the offset of the
// break after the last one, where the log ends; or an error matching ErrCorrupt if a valid
// record follows the break, or a valid record does not decode (see the package comment).
func read(f *os.File, st *State) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 1<<20)
	var off int64
	var hdr [8]byte
	for off+8 <= size {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return 0, err
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		if n == 0 || n > maxRecord || off+8+int64(n) > size {
			break
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return 0, err
		}
		if crc32.Checksum(payload, crcTable) != binary.BigEndian.Uint32(hdr[4:]) {
			break
		}
		if err := apply(st, payload); err != nil {
			return 0, fmt.Errorf("%w: record at offset %d passes its checksum but does not decode: %v", ErrCorrupt, off, err)
		}
		off += 8 + int64(n)
	}
	next, err := findRecord(f, off+1, size)
	if err != nil {
		return 0, err
	}
	if next >= 0 {
		return 0, fmt.Errorf("%w: no valid record at offset %d, but one at offset %d after it; "+
			"the file is left as it is (cutting it at %d would drop every record after)", ErrCorrupt, off, next, off)
	}
	return off, nil
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

func knownType(t byte) bool { return t == recEntry || t == recHardState || t == recSnapshot }

func apply(st *State, p []byte) error {
	switch p[0] {
	case recEntry:
		var e raftpb.Entry
		if err := e.Unmarshal(p[1:]); err != nil {
			return err
		}
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
		for len(st.Entries) > 0 && st.Entries[0].Index <= m.Index {
			st.Entries = st.Entries[1:]
		}
	default:
		return fmt.Errorf("unknown record type %d", p[0])
	}
	return nil
}

type marshaler interface {
	Size() int
	MarshalToSizedBuffer([]byte) (int, error)
}

// append encodes a record onto w.buf.
func (w *WAL) append(typ byte, m marshaler) error {
	n := m.Size() + 1
	start := len(w.buf)
	w.buf = append(w.buf, make([]byte, 8+n)...)
	b := w.buf[start:]
	b[8] = typ
	if _, err := m.MarshalToSizedBuffer(b[9:]); err != nil {
		return err
	}
	binary.BigEndian.PutUint32(b[:4], uint32(n))
	binary.BigEndian.PutUint32(b[4:8], crc32.Checksum(b[8:], crcTable))
	return nil
}

// flush writes w.buf at the end of the log, zero-filling further ahead first if needed.
func (w *WAL) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	end := w.off + int64(len(w.buf)) + 8 // and the zero length after it
	// The chunk being zero-filled, if done; waited for if this write needs it.
	if err := w.grown(end > w.alloc); err != nil {
		return err
	}
	if end > w.alloc {
		// No chunk was being filled, or one write needs more than it.
		if err := w.extend(end + preallocChunk); err != nil {
			return err
		}
	}
	if end > w.alloc-growStep()/2 {
		w.growAhead()
	}
	if _, err := w.f.WriteAt(w.buf, w.off); err != nil {
		return err
	}
	w.off += int64(len(w.buf))
	w.buf = w.buf[:0]
	return nil
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
		if err := w.append(recEntry, &ents[i]); err != nil {
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
	start := time.Now()
	err := fdatasync(w.f)
	if w.ObserveSync != nil {
		w.ObserveSync(time.Since(start))
	}
	return err
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
	return w.append(recHardState, &w.hs)
}

func isEmptyHardState(hs raftpb.HardState) bool {
	return hs.Term == 0 && hs.Vote == 0 && hs.Commit == 0
}

// Snapshot records that the log may start after meta: as one more record while the log is
// shorter than three quarters of a chunk, or than four if the rewrite would copy over a
// megabyte of entries (written, and synced by the next Save: if it is lost, the
// log merely starts earlier), else by a rewrite (Compact). ents are the entries after
// meta.Index, which a rewrite keeps.
func (w *WAL) Snapshot(meta raftpb.SnapshotMetadata, hs raftpb.HardState, ents []raftpb.Entry) error {
	if w.spare == nil && w.off > preallocChunk/2 {
		w.prepareSpare() // a rewrite is near (not before: most logs never get that far)
	}
	if w.off < preallocChunk*3/4 || w.off < 4*preallocChunk && entryBytes(ents, meta.Index) > preallocChunk/16 {
		// A rewrite copies the entries after meta, and the Raft loop waits for it: with
		// large values those are megabytes, so it waits until the file is much longer.
		if err := w.appendHardState(raftpb.HardState{}); err != nil {
			return err
		}
		if err := w.append(recSnapshot, &meta); err != nil {
			return err
		}
		return w.flush()
	}
	return w.Compact(meta, hs, ents)
}

// entryBytes is about how many bytes a rewrite would copy: the data of the entries after
// index.
func entryBytes(ents []raftpb.Entry, index uint64) int64 {
	var n int64
	for i := range ents {
		if ents[i].Index > index {
			n += int64(len(ents[i].Data))
		}
	}
	return n
}

// Compact rewrites the log to start after snapshot meta: a new file holding meta, hs and the
// entries after meta.Index replaces the old one atomically.
func (w *WAL) Compact(meta raftpb.SnapshotMetadata, hs raftpb.HardState, ents []raftpb.Entry) error {
	f, alloc, err := w.takeSpare()
	if err != nil {
		return err
	}
	tmp := f.Name()
	nw := &WAL{dir: w.dir, f: f, alloc: alloc}
	err = nw.append(recSnapshot, &meta)
	for i := range ents {
		if err == nil && ents[i].Index > meta.Index {
			err = nw.append(recEntry, &ents[i])
		}
	}
	if isEmptyHardState(hs) {
		hs = w.hs // the new file must hold the term and vote too
	}
	if err == nil && !isEmptyHardState(hs) {
		err = nw.append(recHardState, &hs)
	}
	if err == nil {
		err = nw.flush()
	}
	if err == nil {
		err = fdatasync(f)
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(w.dir, fileName))
	}
	if err == nil {
		err = syncDir(w.dir)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("wal: compact: %w", err)
	}
	w.grown(true) // the old file's, which is going: waited for so it writes into no file later
	w.f.Close()
	w.f, w.off, w.alloc, w.grow = f, nw.off, nw.alloc, nw.grow
	w.hs, w.unwritten = hs, false
	return nil
}

// Close flushes and closes the log.
func (w *WAL) Close() error {
	if w.spare != nil {
		if s := <-w.spare; s.f != nil {
			s.f.Close()
		}
	}
	err := w.appendHardState(raftpb.HardState{})
	if err == nil {
		err = w.flush()
	}
	if gerr := w.grown(true); err == nil {
		err = gerr
	}
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
