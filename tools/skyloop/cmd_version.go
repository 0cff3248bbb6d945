package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newVersionCmd) }

// versionInfo is what `skyloop version` prints, from the build information
// the Go toolchain embeds in the binary.
type versionInfo struct {
	Module   string `json:"module"`             // module path of the main package
	Version  string `json:"version"`            // module version: v1.2.3 with go install …@v1.2.3, (devel) in a checkout
	Revision string `json:"revision,omitempty"` // VCS commit the binary was built from
	Time     string `json:"time,omitempty"`     // commit time (RFC 3339)
	Modified bool   `json:"modified"`           // built from a tree with uncommitted changes
	Go       string `json:"go"`                 // Go version that built it
	Platform string `json:"platform"`           // GOOS/GOARCH
}

func buildVersion() versionInfo {
	v := versionInfo{Version: "unknown", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Module, v.Go = bi.Main.Path, bi.GoVersion
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func newVersionCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the tool's version, the commit it was built from and the Go version",
		Long: `version prints what the Go toolchain recorded in this binary: the module
version (v1.2.3 when installed with 'go install …@v1.2.3', (devel) when built
in a checkout), the VCS revision and commit time (with "+ uncommitted
changes" when the tree was dirty), the Go version and the platform.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := buildVersion()
			if asJSON {
				return a.printJSON(v)
			}
			name := v.Module
			if name == "" {
				name = "skyloop"
			}
			fmt.Fprintf(a.stdout, "%s %s\n", name, v.Version)
			if v.Revision != "" {
				rev := v.Revision
				if v.Time != "" {
					rev += " (" + v.Time + ")"
				}
				if v.Modified {
					rev += " + uncommitted changes"
				}
				fmt.Fprintf(a.stdout, "revision %s\n", rev)
			} else {
				fmt.Fprintln(a.stdout, "revision unknown (built without VCS information)")
			}
			fmt.Fprintf(a.stdout, "%s %s\n", v.Go, v.Platform)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
