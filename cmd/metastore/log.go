package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// logger writes etcd's log lines: with --log-format json (the default) zap's shape,
// {"level":"info","ts":"…","caller":"file.go:12","msg":"…", fields…}, so the tools that read
// etcd's logs read ours; console is slog's text. --log-outputs is etcd's list: default,
// stderr, stdout, or file paths. The returned function closes the files.
func logger(level, format, outputs string) (*slog.Logger, func(), error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, nil, fmt.Errorf("--log-level: %v", err)
	}
	var ws []io.Writer
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	for _, o := range strings.Split(outputs, ",") {
		switch o {
		case "default", "stderr", "":
			ws = append(ws, os.Stderr)
		case "stdout":
			ws = append(ws, os.Stdout)
		default:
			f, err := os.OpenFile(o, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				closeAll()
				return nil, nil, fmt.Errorf("--log-outputs: %v", err)
			}
			files = append(files, f)
			ws = append(ws, f)
		}
	}
	w := io.MultiWriter(ws...)
	switch format {
	case "json", "":
		opts := &slog.HandlerOptions{Level: l, AddSource: true, ReplaceAttr: zapShape}
		return slog.New(slog.NewJSONHandler(w, opts)), closeAll, nil
	case "console":
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), closeAll, nil
	}
	closeAll()
	return nil, nil, fmt.Errorf("--log-format: %q is neither json nor console", format)
}

// zapShape renames slog's built-in fields to zap's (etcd's logger): level in lower case, ts
// in UTC with microseconds, caller as dir/file:line.
func zapShape(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.LevelKey:
		return slog.String("level", strings.ToLower(a.Value.String()))
	case slog.TimeKey:
		return slog.String("ts", a.Value.Time().UTC().Format("2006-01-02T15:04:05.000000Z07:00"))
	case slog.SourceKey:
		if src, ok := a.Value.Any().(*slog.Source); ok {
			return slog.String("caller", filepath.Join(filepath.Base(filepath.Dir(src.File)), filepath.Base(src.File))+":"+strconv.Itoa(src.Line))
		}
	}
	return a
}
