package raft

import (
	"context"
	"fmt"
	"log/slog"
)

// slogger adapts a *slog.Logger to raft's Logger (which would otherwise
// print to stderr).
type slogger struct{ l *slog.Logger }

func (s slogger) log(level slog.Level, msg string) {
	s.l.Log(context.Background(), level, "raft: "+msg)
}

func (s slogger) Debug(v ...any)                 { s.log(slog.LevelDebug, fmt.Sprint(v...)) }
func (s slogger) Debugf(format string, v ...any) { s.log(slog.LevelDebug, fmt.Sprintf(format, v...)) }
func (s slogger) Info(v ...any)                  { s.log(slog.LevelDebug, fmt.Sprint(v...)) }
func (s slogger) Infof(format string, v ...any)  { s.log(slog.LevelDebug, fmt.Sprintf(format, v...)) }
func (s slogger) Warning(v ...any)               { s.log(slog.LevelWarn, fmt.Sprint(v...)) }
func (s slogger) Warningf(format string, v ...any) {
	s.log(slog.LevelWarn, fmt.Sprintf(format, v...))
}
func (s slogger) Error(v ...any)                 { s.log(slog.LevelError, fmt.Sprint(v...)) }
func (s slogger) Errorf(format string, v ...any) { s.log(slog.LevelError, fmt.Sprintf(format, v...)) }

// Fatal and Panic: raft calls them on broken invariants; it expects them
// not to return.
func (s slogger) Fatal(v ...any) { s.Panic(v...) }
func (s slogger) Fatalf(format string, v ...any) {
	s.Panicf(format, v...)
}
func (s slogger) Panic(v ...any) {
	msg := fmt.Sprint(v...)
	s.log(slog.LevelError, msg)
	panic("raft: " + msg)
}
func (s slogger) Panicf(format string, v ...any) { s.Panic(fmt.Sprintf(format, v...)) }
