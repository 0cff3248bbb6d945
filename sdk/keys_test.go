package sdk

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateKey(t *testing.T) {
	good := []string{"a", "game/alice/sessions/20261124T1/00000001.seg", "saves/slot 1", "ünï/cødé", "a.b/c..d/.e"}
	for _, k := range good {
		if err := ValidateKey(k); err != nil {
			t.Errorf("%q refused: %v", k, err)
		}
	}
	bad := []string{"", "/abs", "a/../b", "..", "a/./b", "a//b", "a/", "nul\x00", "tab\tkey", "del\x7f", "back\\slash", "\xff\xfe", strings.Repeat("k", 1025)}
	for _, k := range bad {
		err := ValidateKey(k)
		if err == nil || !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%q accepted or wrong error: %v", k, err)
		}
	}
	if ValidateKey(strings.Repeat("k", 1024)) != nil {
		t.Error("1024-byte key refused")
	}
	if ValidatePrefix("game/alice/") != nil || ValidatePrefix("") != nil || ValidatePrefix("../") == nil {
		t.Error("prefix rules")
	}
}

func TestErrorsClassify(t *testing.T) {
	err := RetryableError("put", "k", errors.New("connection reset"))
	if !IsRetryable(err) || errors.Is(err, ErrNotFound) {
		t.Fatal("retryable misclassified")
	}
	nf := NotFound("get", "k")
	if !errors.Is(nf, ErrNotFound) || IsRetryable(nf) {
		t.Fatal("not found misclassified")
	}
	pf := PreconditionFailed("put", "k", "etag mismatch")
	if !errors.Is(pf, ErrPreconditionFailed) || !strings.Contains(pf.Error(), "etag mismatch") {
		t.Fatalf("precondition: %v", pf)
	}
}

func TestCheckSettings(t *testing.T) {
	decl := []Setting{{Name: "root", Required: true, Help: "directory to store in"}, {Name: "fsync"}}
	if err := CheckSettings("disk", decl, map[string]string{"root": "/x"}); err != nil {
		t.Fatal(err)
	}
	err := CheckSettings("disk", decl, map[string]string{"rot": "/x"})
	if err == nil || !errors.Is(err, ErrInvalidSettings) || !strings.Contains(err.Error(), `unknown setting "rot" (known: fsync, root)`) || !strings.Contains(err.Error(), `missing required setting "root"`) {
		t.Fatalf("got %v", err)
	}
}
