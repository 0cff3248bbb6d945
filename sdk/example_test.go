package sdk_test

import (
	"errors"
	"fmt"
	"io"

	"github.com/skyloop-engine/skyloop/sdk"
)

// Keys are checked on both sides of the wire, so no backend can be walked
// out of its root.
func ExampleValidateKey() {
	for _, key := range []string{
		"breakout/alice/sessions/20240102T030405.000Z-3200/00000007.seg",
		"breakout/alice/saves/slot1",
		"/etc/passwd",
		"breakout/../../etc/passwd",
		"breakout//x",
		"",
	} {
		if err := sdk.ValidateKey(key); err != nil {
			fmt.Println("refused:", err, "| invalid key:", errors.Is(err, sdk.ErrInvalidKey))
			continue
		}
		fmt.Println("ok:", key)
	}
	// Output:
	// ok: breakout/alice/sessions/20240102T030405.000Z-3200/00000007.seg
	// ok: breakout/alice/saves/slot1
	// refused: validate "/etc/passwd": invalid key: starts with '/' | invalid key: true
	// refused: validate "breakout/../../etc/passwd": invalid key: has a '.' or '..' segment | invalid key: true
	// refused: validate "breakout//x": invalid key: has an empty path segment ('//' or a trailing '/') | invalid key: true
	// refused: validate "": invalid key: empty | invalid key: true
}

// A backend says what went wrong with the contract's errors; the engine
// decides from them whether to retry.
func ExampleError() {
	errs := []error{
		sdk.NotFound("get", "g/p/saves/slot1"),
		sdk.PreconditionFailed("put", "g/p/saves/slot1", "etag changed"),
		sdk.RetryableError("put", "g/p/sessions/s/00000000.seg", io.ErrUnexpectedEOF),
		sdk.PermanentError("put", "g/p/sessions/s/00000000.seg", errors.New("bucket does not exist")),
	}
	for _, err := range errs {
		fmt.Printf("%v\n  not found: %v, precondition: %v, retry: %v\n", err,
			errors.Is(err, sdk.ErrNotFound), errors.Is(err, sdk.ErrPreconditionFailed), sdk.IsRetryable(err))
	}
	// Output:
	// get g/p/saves/slot1: not found
	//   not found: true, precondition: false, retry: false
	// put g/p/saves/slot1: precondition failed: etag changed
	//   not found: false, precondition: true, retry: false
	// put g/p/sessions/s/00000000.seg: unexpected EOF (retryable)
	//   not found: false, precondition: false, retry: true
	// put g/p/sessions/s/00000000.seg: bucket does not exist
	//   not found: false, precondition: false, retry: false
}
