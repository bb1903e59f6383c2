package mem

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// check is a small assertion helper in the spirit of testify's require
// (testify's dependencies are not in go.sum). Every failure is fatal.
var check checker

type checker struct{}

func fail(t testing.TB, msg []any, format string, args ...any) {
	t.Helper()
	s := fmt.Sprintf(format, args...)
	if len(msg) > 0 {
		if f, ok := msg[0].(string); ok {
			s = fmt.Sprintf(f, msg[1:]...) + ": " + s
		}
	}
	t.Fatal(s)
}

func (checker) NoError(t testing.TB, err error, msg ...any) {
	t.Helper()
	if err != nil {
		fail(t, msg, "unexpected error: %v", err)
	}
}

func (checker) Error(t testing.TB, err error, msg ...any) {
	t.Helper()
	if err == nil {
		fail(t, msg, "expected an error")
	}
}

func (checker) ErrorIs(t testing.TB, err, target error, msg ...any) {
	t.Helper()
	if !errors.Is(err, target) {
		fail(t, msg, "error %v is not %v", err, target)
	}
}

func (checker) ErrorAs(t testing.TB, err error, target any, msg ...any) {
	t.Helper()
	if !errors.As(err, target) {
		fail(t, msg, "error %v is not a %T", err, target)
	}
}

func (checker) ErrorContains(t testing.TB, err error, sub string, msg ...any) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), sub) {
		fail(t, msg, "error %v does not contain %q", err, sub)
	}
}

func (checker) Equal(t testing.TB, want, got any, msg ...any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		fail(t, msg, "got %s, want %s", short(got), short(want))
	}
}

func (checker) NotEqual(t testing.TB, a, b any, msg ...any) {
	t.Helper()
	if reflect.DeepEqual(a, b) {
		fail(t, msg, "both are %s", short(a))
	}
}

func (checker) True(t testing.TB, ok bool, msg ...any) {
	t.Helper()
	if !ok {
		fail(t, msg, "not true")
	}
}

func (checker) False(t testing.TB, ok bool, msg ...any) {
	t.Helper()
	if ok {
		fail(t, msg, "not false")
	}
}

func short(v any) string {
	s := fmt.Sprintf("%v", v)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
