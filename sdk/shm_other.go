//go:build !linux

package sdk

import (
	"errors"
	"os"
)

func createShm(int) (*os.File, *shmRegion, error) {
	return nil, nil, errors.New("shared memory needs Linux (memfd)")
}

func openShm() []byte { return nil }
