package main

import (
	"context"
	"io"

	"github.com/skyloop-engine/skyloop/sdk"
	"github.com/skyloop-engine/skyloop/sdk/synctest"
)

func main() {
	sdk.Serve(sdk.Plugin{
		Info: sdk.Info{
			Name:         "broken",
			Version:      "0.0.1",
			Capabilities: sdk.Capabilities{ConditionalWrites: true, AtomicReplace: true, RangedReads: true},
		},
		Settings: []sdk.Setting{
			{Name: "prefix", Help: "ignored: every process has its own empty memory"},
			{Name: "no_ranged_reads", Help: "non-empty: Info denies the RangedReads capability"},
			{Name: "claim_nested", Help: "non-empty: Info claims NestedKeys, which -describe denies"},
		},
		New: func(ctx context.Context, settings map[string]string) (sdk.Backend, error) {
			return &staleIfMatch{Backend: synctest.NewMemoryBackend(), noRanged: settings["no_ranged_reads"] != "",
				claimNested: settings["claim_nested"] != ""}, nil
		},
	})
}

// staleIfMatch breaks one rule of the contract: a Put with IfMatch
// succeeds whenever the object exists, whatever its current ETag.
type staleIfMatch struct {
	sdk.Backend
	noRanged    bool
	claimNested bool
}

func (b *staleIfMatch) Info(ctx context.Context) (sdk.Info, error) {
	info, err := b.Backend.Info(ctx)
	info.Name, info.Version = "broken", "0.0.1"
	if b.noRanged {
		info.Capabilities.RangedReads = false
	}
	info.Capabilities.NestedKeys = b.claimNested // described: false
	return info, err
}

func (b *staleIfMatch) Put(ctx context.Context, key string, r io.Reader, opts sdk.PutOptions) (sdk.ObjectInfo, error) {
	if opts.IfMatch != "" {
		// The bug: whatever ETag the caller had, it matches the current
		// one. A missing object still fails the precondition (the
		// backend below sees the caller's ETag and no object).
		if cur, err := b.Stat(ctx, key); err == nil {
			opts.IfMatch = cur.ETag
		}
	}
	return b.Backend.Put(ctx, key, r, opts)
}
