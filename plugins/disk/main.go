package main

import (
	"github.com/skyloop-engine/skyloop/plugins/disk/diskstore"
	"github.com/skyloop-engine/skyloop/sdk"
)

func main() { sdk.Serve(diskstore.Plugin()) }
