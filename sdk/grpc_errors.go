package sdk

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	storagev1 "github.com/skyloop-engine/skyloop/sdk/proto/v1"
)

// Error kinds as they travel in storagev1.ErrorDetail.Kind.
var wireKinds = []struct {
	name string
	err  error
	code codes.Code
}{
	{"not_found", ErrNotFound, codes.NotFound},
	{"precondition_failed", ErrPreconditionFailed, codes.FailedPrecondition},
	{"invalid_key", ErrInvalidKey, codes.InvalidArgument},
	{"invalid_settings", ErrInvalidSettings, codes.InvalidArgument},
	{"unsupported", ErrUnsupported, codes.Unimplemented},
	{"invalid_range", ErrInvalidRange, codes.OutOfRange},
}

// toStatus turns a backend error into a gRPC status: the code follows the
// sentinel (or the retry class), and an ErrorDetail carries the kind, the
// retry class, op, key and the full message so that fromStatus can rebuild
// an error that errors.Is and IsRetryable understand on the host.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok && !isSDKError(err) {
		return err // already a status (e.g. from the gRPC runtime)
	}
	d := &storagev1.ErrorDetail{Message: err.Error(), Retryable: IsRetryable(err)}
	code := codes.Unknown
	for _, k := range wireKinds {
		if errors.Is(err, k.err) {
			d.Kind, code = k.name, k.code
			break
		}
	}
	var e *Error
	if errors.As(err, &e) {
		d.Op, d.Key = e.Op, e.Key
	}
	switch {
	case d.Kind != "":
	case d.Retryable:
		code = codes.Unavailable
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	}
	st := status.New(code, d.Message)
	if withDetail, derr := st.WithDetails(d); derr == nil {
		st = withDetail
	}
	return st.Err()
}

func isSDKError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// remoteError is a plugin's error rebuilt on the host: its message is the
// plugin's, word for word, and it unwraps to an *Error holding the kind
// and retry class (so errors.Is(err, ErrNotFound), errors.As(err, &*Error)
// and IsRetryable all work).
type remoteError struct {
	msg   string
	inner *Error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.inner }

// fromStatus maps an error returned by a gRPC call back to the sdk's
// vocabulary. op and key name the call for errors that carry no detail
// (transport failures, the plugin process gone).
func fromStatus(ctx context.Context, op, key string, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return &Error{Op: op, Key: key, Err: err}
	}
	for _, d := range st.Details() {
		detail, ok := d.(*storagev1.ErrorDetail)
		if !ok {
			continue
		}
		inner := &Error{Op: detail.Op, Key: detail.Key, Retryable: detail.Retryable, Err: errors.New(detail.Message)}
		for _, k := range wireKinds {
			if k.name == detail.Kind {
				inner.Kind = k.err
			}
		}
		return &remoteError{msg: detail.Message, inner: inner}
	}
	// No detail: the failure happened in the transport or gRPC runtime.
	if ctxErr := ctx.Err(); ctxErr != nil && (st.Code() == codes.Canceled || st.Code() == codes.DeadlineExceeded) {
		return &Error{Op: op, Key: key, Err: fmt.Errorf("%w (%s)", ctxErr, st.Message())}
	}
	switch st.Code() {
	case codes.NotFound:
		return &Error{Op: op, Key: key, Kind: ErrNotFound, Err: errors.New(st.Message())}
	case codes.FailedPrecondition:
		return &Error{Op: op, Key: key, Kind: ErrPreconditionFailed, Err: errors.New(st.Message())}
	case codes.Unimplemented:
		return &Error{Op: op, Key: key, Kind: ErrUnsupported, Err: errors.New(st.Message())}
	case codes.Unavailable, codes.ResourceExhausted, codes.Aborted:
		return &Error{Op: op, Key: key, Retryable: true, Err: fmt.Errorf("plugin transport: %s: %s", st.Code(), st.Message())}
	}
	return &Error{Op: op, Key: key, Err: fmt.Errorf("plugin: %s: %s", st.Code(), st.Message())}
}
