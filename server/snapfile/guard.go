package snapfile

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// ErrChanged is what Guard returns when the mapped file was cut short under it.
var ErrChanged = errors.New("the file changed while it was read (cut short?)")

// Guard runs read, which reads a file Map mapped, on the calling goroutine, and turns a fault
// on the mapping into ErrChanged instead of a crash: a file truncated under the mapping
// faults (SIGBUS) on the pages that are gone. read must not hand the mapped bytes to another
// goroutine, where a fault still ends the process (the restore, status and export paths
// read on one goroutine; what they give pebble is copied into its batches).
func Guard(read func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		// A fault is a runtime.Error with the faulting address.
		if f, ok := r.(interface{ Addr() uintptr }); ok {
			err = fmt.Errorf("%w (a fault at %#x)", ErrChanged, f.Addr())
			return
		}
		panic(r)
	}()
	return read()
}
