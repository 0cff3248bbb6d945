package sdk

import (
	"errors"
	"fmt"
)

// Sentinel errors of the contract. Backends wrap them (with %w or Error) so
// that the engine can tell what happened across the process boundary.
var (
	ErrNotFound           = errors.New("not found")
	ErrPreconditionFailed = errors.New("precondition failed")
	ErrInvalidKey         = errors.New("invalid key")
	ErrInvalidSettings    = errors.New("invalid settings")
	ErrUnsupported        = errors.New("unsupported")
	// ErrInvalidRange: a Get's Offset lies outside the object (see
	// GetOptions). Not retryable.
	ErrInvalidRange = errors.New("invalid range")
)

// Error is a backend failure with its retry class.
type Error struct {
	Op        string // "put", "get", …
	Key       string
	Kind      error // one of the sentinels, or nil
	Retryable bool  // a later attempt may succeed (network, throttling, 5xx)
	Err       error // the underlying cause
}

func (e *Error) Error() string {
	msg := e.Op
	if e.Key != "" {
		msg += " " + e.Key
	}
	switch {
	case e.Kind != nil && e.Err != nil:
		msg += ": " + e.Kind.Error() + ": " + e.Err.Error()
	case e.Kind != nil:
		msg += ": " + e.Kind.Error()
	case e.Err != nil:
		msg += ": " + e.Err.Error()
	}
	if e.Retryable {
		msg += " (retryable)"
	}
	return msg
}

// Unwrap exposes both the kind and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// RetryableError marks err as worth retrying.
func RetryableError(op, key string, err error) error {
	return &Error{Op: op, Key: key, Retryable: true, Err: err}
}

// PermanentError marks err as final: retrying the same call will fail again.
func PermanentError(op, key string, err error) error {
	return &Error{Op: op, Key: key, Err: err}
}

// IsRetryable reports whether err (or an error it wraps) is marked
// retryable. Unmarked errors are not: the engine retries only what a
// backend says may succeed later, plus transport failures it detects itself.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}

// NotFound returns an ErrNotFound error for key.
func NotFound(op, key string) error { return &Error{Op: op, Key: key, Kind: ErrNotFound} }

// PreconditionFailed returns an ErrPreconditionFailed error for key.
func PreconditionFailed(op, key, why string) error {
	return &Error{Op: op, Key: key, Kind: ErrPreconditionFailed, Err: errors.New(why)}
}

// invalidKey returns an ErrInvalidKey error.
func invalidKey(key, why string) error {
	return &Error{Op: "validate", Key: fmt.Sprintf("%q", key), Kind: ErrInvalidKey, Err: errors.New(why)}
}
