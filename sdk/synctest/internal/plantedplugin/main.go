// Command plantedplugin serves sdk/synctest/internal/planted's backend as a
// storage plugin, with the bug named by its "bug" setting planted ("" for
// none), so that tests can prove that `skyloop plugin check` catches
// planted bugs through a real plugin process, not only in process.
//
// Where it sits in the flow: nowhere in production; tools/skyloop's tests
// build and check it.
package main

import (
	"context"

	"github.com/skyloop-engine/skyloop/sdk"
	"github.com/skyloop-engine/skyloop/sdk/synctest/internal/planted"
)

func main() {
	sdk.Serve(sdk.Plugin{
		Info: sdk.Info{Name: "planted", Version: "1", Capabilities: sdk.Capabilities{
			ConditionalWrites: true, AtomicReplace: true, RangedReads: true, NestedKeys: true}},
		Settings: []sdk.Setting{{Name: "bug", Help: "the planted bug (see planted.Mutants); empty: none"}},
		New: func(ctx context.Context, settings map[string]string) (sdk.Backend, error) {
			return planted.New(planted.Bug(settings["bug"])), nil
		},
	})
}
