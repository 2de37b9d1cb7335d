//go:build js && wasm

// Package promise runs a Go call behind a JavaScript Promise, for the tab's WebAssembly
// bridges (the single store's, wasm/, and the in-tab cluster's, wasm/cluster/tab).
package promise

import (
	"encoding/json"
	"syscall/js"

	"github.com/metastore/metastore/core"
)

// Run returns a Promise that fn settles from a goroutine of its own (so the page's event
// loop never waits on it): resolved with fn's result as JSON, or rejected with {code,
// message}, as status words fn's error.
func Run(fn func() (any, error), status func(error) (core.Code, string)) js.Value {
	// The executor runs inside Promise's constructor, so it can be released right after:
	// kept, each call would pin its closure (and the settled Promise) for good.
	executor := js.FuncOf(func(_ js.Value, pa []js.Value) any {
		resolve, reject := pa[0], pa[1]
		go func() {
			out, err := fn()
			if err != nil {
				code, msg := status(err)
				reject.Invoke(js.ValueOf(map[string]any{"code": int(code), "message": msg}))
				return
			}
			b, _ := json.Marshal(out)
			resolve.Invoke(string(b))
		}()
		return nil
	})
	defer executor.Release()
	return js.Global().Get("Promise").New(executor)
}

// Reject returns a Promise already rejected with {code, message}.
func Reject(code core.Code, msg string) js.Value {
	return js.Global().Get("Promise").Call("reject", js.ValueOf(map[string]any{"code": int(code), "message": msg}))
}
