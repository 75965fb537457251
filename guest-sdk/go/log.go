// Leveled log records sent to the host (lambda_wasm.log), which formats them
// as Lambda does (text or JSON) and filters them by AWS_LAMBDA_LOG_LEVEL.
// Plain fmt.Println output works too: each stdout line is one INFO record.
//
// Built as part of a guest: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared
// (see `make guests-go`).

package lambdawasm

import "fmt"

// Level is a log record's severity; the values are the ABI's.
type Level int32

const (
	LevelTrace Level = iota
	LevelDebug
	LevelInfo
	LevelWarn
	LevelError
	LevelFatal
)

// Logger drops records below MinLevel before they reach the host, as
// Python's logger.setLevel does. The zero Logger sends every record.
type Logger struct {
	MinLevel Level
}

// Logf sends one record at level, formatted as fmt.Sprintf does.
func (l Logger) Logf(level Level, format string, args ...any) {
	if level >= l.MinLevel {
		sendLog(level, fmt.Sprintf(format, args...))
	}
}

func (l Logger) Tracef(format string, args ...any) { l.Logf(LevelTrace, format, args...) }
func (l Logger) Debugf(format string, args ...any) { l.Logf(LevelDebug, format, args...) }
func (l Logger) Infof(format string, args ...any)  { l.Logf(LevelInfo, format, args...) }
func (l Logger) Warnf(format string, args ...any)  { l.Logf(LevelWarn, format, args...) }
func (l Logger) Errorf(format string, args ...any) { l.Logf(LevelError, format, args...) }
func (l Logger) Fatalf(format string, args ...any) { l.Logf(LevelFatal, format, args...) }

// Log is the default logger: every level goes to the host, which filters by
// AWS_LAMBDA_LOG_LEVEL.
var Log Logger
