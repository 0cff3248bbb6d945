package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	gosync "sync"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/skyloop-engine/skyloop/engine/saves"
	skysync "github.com/skyloop-engine/skyloop/engine/sync"
	"github.com/skyloop-engine/skyloop/sdk"
	"github.com/skyloop-engine/skyloop/tools/skyloop/internal/export"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// `skyloop saves`: the players' save slots (engine/saves) in any sink.
//
// Every subcommand opens a saves.Store of its own in a temporary directory
// (no background poll), with the selected sinks as its remotes, calls Sync
// once — which fetches every version object of the player (or of the one
// slot) and works out the current versions, merges and conflicts exactly as
// a game's store does — answers from it, and closes it. The tool never
// deletes anything: its remotes offer no Delete, so the store's pruning of
// old versions stays local to the temporary directory. restore and resolve
// write one new version (Store.Restore, Store.Resolve) and Put it to every
// selected sink; the tool is then a device of its own, named "skyloop tool".

func init() { commands = append(commands, newSavesCmd) }

const (
	savesDeviceName    = "skyloop tool"
	envSavesPassphrase = "SKYLOOP_SAVES_PASSPHRASE"
	// savesUploadWait bounds how long restore and resolve keep retrying a
	// sink that fails for a reason that may pass.
	savesUploadWait = 2 * time.Minute
	// saveHexHead is how much of a bytes slot show dumps.
	saveHexHead = 256
)

// savesFlags are the flags every saves subcommand takes.
type savesFlags struct {
	sink     string
	passFile string
	asJSON   bool
}

func newSavesCmd(a *app) *cobra.Command {
	f := &savesFlags{}
	cmd := &cobra.Command{
		Use:   "saves",
		Short: "List, show, export, restore and resolve the players' save slots in any sink",
		Long: `saves reads the save slots games keep with engine/saves — versions stored as
GAME/PLAYER/saves/SLOT/ID.sav in every sink — through the sinks' plugins, and
works out each slot's current version, its history and its conflicts the way
the games do. A version held by several sinks is one version.

  skyloop saves list [--game G] [--player P]
  skyloop saves show GAME/PLAYER/SLOT [--version ID]
  skyloop saves history GAME/PLAYER/SLOT [--limit N]
  skyloop saves export GAME/PLAYER/SLOT --out FILE [--version ID] [--thumbnail] [--force]
  skyloop saves restore GAME/PLAYER/SLOT --version ID [--yes]
  skyloop saves resolve GAME/PLAYER/SLOT --keep ID [--yes]

Every subcommand reads every sink in the config, or --sink NAME only, and
prints JSON with --json. A version ID may be shortened to a unique prefix.

Encrypted slots need their passphrase: --passphrase-file FILE (its first
line), else $SKYLOOP_SAVES_PASSPHRASE, else the tool asks for it on a
terminal. A wrong passphrase is an error; nothing is shown decrypted with it.

restore and resolve never overwrite or delete: each writes one new version
(made "restore" or "resolve", by the device "skyloop tool") that descends
from every current version, to every selected sink, and the versions it
replaces stay in the history. They ask first on a terminal; without one
they refuse unless --yes is given.

The tool settles conflicts by no policy of its own: where typed fields
(best, counters, unlocks, values) differ it merges them as every game does
(such a merge, not in any sink yet, is marked "merged here"), and where
plain values differ it shows CONFLICT until a game's policy, or resolve,
settles it.

Exit status: 0 success, 1 failure (a slot or version not found, a version
that does not read, a wrong passphrase, a storage error, a question answered
no), 2 bad usage (also: a passphrase needed and no way to get it, or no
terminal to ask on and no --yes).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError("%s: unknown subcommand %q (want list, show, history, export, restore or resolve; see '%s --help')", cmd.CommandPath(), args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.sink, "sink", "", "only this sink (`NAME` in the config); default: every sink")
	pf.BoolVar(&f.asJSON, "json", false, "print JSON")
	pf.StringVar(&f.passFile, "passphrase-file", "", "read the passphrase of encrypted slots from `FILE` (its first line); default: $"+envSavesPassphrase+", else ask on a terminal")
	cmd.AddCommand(newSavesListCmd(a, f), newSavesShowCmd(a, f), newSavesHistoryCmd(a, f),
		newSavesExportCmd(a, f), newSavesRestoreCmd(a, f), newSavesResolveCmd(a, f))
	return cmd
}

// --- JSON shapes ---

// SaveVersionJSON is one version as --json prints it.
type SaveVersionJSON struct {
	ID          string    `json:"id"`
	Made        string    `json:"made"`               // save | merge | policy:NAME | resolve | restore
	Restored    string    `json:"restored,omitempty"` // restore, resolve: the version whose content it has
	Device      string    `json:"device"`
	DeviceID    string    `json:"device_id"`
	Clock       string    `json:"clock"`
	Updated     time.Time `json:"updated"`
	PlayTimeMS  int64     `json:"play_time_ms"`
	Progress    float64   `json:"progress"`
	Description string    `json:"description"`
	Size        int64     `json:"size"`
	Encoding    string    `json:"encoding"` // json | bytes
	Encrypted   bool      `json:"encrypted"`
	Parents     []string  `json:"parents"`
	Conflicts   []string  `json:"conflicts,omitempty"` // plain values a policy decided (JSON paths)
	Head        bool      `json:"head"`                // no newer version descends from it
	Current     bool      `json:"current"`             // what a game loads now
	Sinks       []string  `json:"sinks"`               // the sinks that hold it (empty: merged here)
}

// saveSlotRow is one row of `saves list`.
type saveSlotRow struct {
	Ref    string `json:"ref"` // GAME/PLAYER/SLOT
	Game   string `json:"game"`
	Player string `json:"player"`
	Slot   string `json:"slot"`
	*SaveVersionJSON
	Versions int `json:"versions"` // versions read
	// Conflict: several current versions that differ in plain values and
	// wait for a game's policy or resolve.
	Conflict       bool     `json:"conflict"`
	Heads          []string `json:"heads,omitempty"`
	ConflictFields []string `json:"conflict_fields,omitempty"`
	// Error says why the slot, or some of its versions, could not be read.
	Error string `json:"error,omitempty"`
}

type saveConflictJSON struct {
	Heads  []SaveVersionJSON `json:"heads"` // newest first
	Fields []string          `json:"fields,omitempty"`
}

// saveFieldJSON is a typed field of a JSON save and its value.
type saveFieldJSON struct {
	Path     string            `json:"path"` // "/a/b" ("" for the whole save)
	Kind     string            `json:"kind"` // best | least | counter | unlocks | value
	Value    any               `json:"value"`
	Devices  map[string]int64  `json:"devices,omitempty"`  // counter: each device's count
	Unlocked map[string]string `json:"unlocked,omitempty"` // unlocks: name → time
	At       string            `json:"at,omitempty"`       // value: the clock stamp that set it
	By       string            `json:"by,omitempty"`       // value: the device that set it
}

type saveShowJSON struct {
	Ref            string            `json:"ref"`
	Version        SaveVersionJSON   `json:"version"`
	Conflict       *saveConflictJSON `json:"conflict,omitempty"`
	ThumbnailBytes int               `json:"thumbnail_bytes"`
	Content        json.RawMessage   `json:"content,omitempty"`     // encoding json
	DataBase64     string            `json:"data_base64,omitempty"` // encoding bytes
	Fields         []saveFieldJSON   `json:"fields,omitempty"`
	Warnings       []string          `json:"warnings,omitempty"`
}

type saveHistoryJSON struct {
	Ref      string            `json:"ref"`
	Versions []SaveVersionJSON `json:"versions"`
	Conflict *saveConflictJSON `json:"conflict,omitempty"`
	Warnings []string          `json:"warnings,omitempty"`
}

type saveExportJSON struct {
	Ref     string `json:"ref"`
	Version string `json:"version"`
	What    string `json:"what"` // payload | thumbnail
	Out     string `json:"out"`
	Bytes   int    `json:"bytes"`
	SHA256  string `json:"sha256"`
}

type saveWriteJSON struct {
	Ref     string          `json:"ref"`
	Version SaveVersionJSON `json:"version"` // the new version (or the current one, when nothing was written)
	Sinks   []string        `json:"sinks"`   // where it was written (or is)
	Written bool            `json:"written"` // false: restore of the current version, nothing to do
}

// --- subcommands ---

func newSavesListCmd(a *app, f *savesFlags) *cobra.Command {
	var game, player string
	cmd := &cobra.Command{
		Use:   "list [--game G] [--player P]",
		Short: "List every save slot: current version, device, update time, play time, progress, size, conflicts",
		Long: `list finds every player's saves in the sinks (objects GAME/PLAYER/saves/SLOT/ID.sav)
and prints one row per GAME/PLAYER/SLOT: the current version, the device that
wrote it, when, the play time, the progress and description the game gave,
the size, and CONFLICT when the slot has several current versions that a
player (or a game's policy) has to choose between.

A slot that cannot be read (encrypted and no passphrase given, a wrong
passphrase, damaged versions) is listed with the reason, and list exits 1
after listing everything else.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.Contains(game, "/") || strings.Contains(player, "/") {
				return usageError("--game and --player are single names, without '/'")
			}
			ctx := cmd.Context()
			r, err := a.startSaves(ctx, f, false)
			if err != nil {
				return err
			}
			defer r.close()
			found, err := r.discover(ctx, game, player)
			if err != nil {
				return err
			}
			rows := []saveSlotRow{}
			failed := 0
			for _, gp := range found.order {
				v, err := r.openView(ctx, gp.game, gp.player, "", found.objects[gp])
				if err != nil {
					return err
				}
				for _, row := range v.rows() {
					if row.Error != "" {
						failed++
					}
					rows = append(rows, row)
				}
			}
			if f.asJSON {
				if err := a.printJSON(rows); err != nil {
					return err
				}
			} else if err := printSlotRows(a.stdout, rows, r.sinkNames()); err != nil {
				return err
			}
			if failed > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%s could not be read fully: see the rows", plural(failed, "slot", "slots"))}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&game, "game", "", "only this game")
	cmd.Flags().StringVar(&player, "player", "", "only this player")
	return cmd
}

func printSlotRows(w io.Writer, rows []saveSlotRow, sinks string) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintf(w, "no saves in sink(s) %s\n", sinks)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SLOT\tVERSION\tDEVICE\tUPDATED\tPLAY TIME\tPROGRESS\tDESCRIPTION\tSIZE\tSTATE")
	merged := false
	for _, r := range rows {
		if r.SaveVersionJSON == nil {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\t%s\n", r.Ref, r.Error)
			continue
		}
		var state []string
		if r.Conflict {
			state = append(state, fmt.Sprintf("CONFLICT (%d versions)", len(r.Heads)))
		}
		if len(r.Sinks) == 0 {
			state = append(state, "merged here*")
			merged = true
		}
		if r.Encrypted {
			state = append(state, "encrypted")
		}
		if r.Error != "" {
			state = append(state, r.Error)
		}
		if len(state) == 0 {
			state = append(state, "ok")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Ref, r.ID, r.Device, saveTime(r.Updated), savePlay(r.PlayTimeMS),
			saveProgress(r.Progress), saveOneLine(r.Description, 40), humanize.IBytes(uint64(r.Size)), strings.Join(state, "; "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if merged {
		fmt.Fprintln(w, "* merged here: the sinks hold versions from devices that have not seen each other's; their typed fields merge into this version, which the games make (the same) at their next sync")
	}
	return nil
}

func newSavesShowCmd(a *app, f *savesFlags) *cobra.Command {
	var version string
	cmd := &cobra.Command{
		Use:   "show GAME/PLAYER/SLOT [--version ID]",
		Short: "Show a save slot's current (or any) version: metadata, typed fields and content",
		Long: `show prints a version of a slot — the current one, or --version ID from its
history — with its metadata (how it was made, device, time, play time,
progress, description, size, parents, the sinks that hold it), the typed
fields of a JSON save with their values (a best score, a counter with each
device's count and the total, unlocks with their times, last-writer-wins
values with who set them when), and the content: JSON pretty-printed, bytes
as a hex dump of the first 256 (export writes all of them). A slot in
conflict says so and lists the versions to choose from.`,
		Args: savesRefArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, _ := parseSaveRef(args[0])
			r, s, v, payload, thumb, err := a.readPicked(cmd.Context(), f, ref, version)
			if r != nil {
				defer r.close()
			}
			if err != nil {
				return err
			}
			out := saveShowJSON{Ref: ref.String(), Version: s.versionJSON(v), Conflict: s.conflictJSON(), ThumbnailBytes: len(thumb), Warnings: s.warnings}
			isJSON := v.Encoding == "json" && json.Valid(payload)
			if isJSON {
				out.Content = json.RawMessage(payload)
				out.Fields = saveTypedFields(payload)
			} else {
				out.DataBase64 = base64.StdEncoding.EncodeToString(payload)
			}
			if f.asJSON {
				return a.printJSON(out)
			}
			w := a.stdout
			s.printWarnings(a)
			fmt.Fprintf(w, "%s  version %s\n", ref, v.ID)
			printSaveVersion(w, out.Version, true)
			if len(thumb) > 0 {
				fmt.Fprintf(w, "  thumbnail:   %s PNG ('skyloop saves export %s --version %s --thumbnail --out FILE')\n", humanize.IBytes(uint64(len(thumb))), ref, v.ID)
			}
			if c := out.Conflict; c != nil {
				printSaveConflict(w, ref, c)
			}
			if isJSON {
				if len(out.Fields) > 0 {
					fmt.Fprintln(w, "\ntyped fields:")
					tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
					for _, fl := range out.Fields {
						fmt.Fprintf(tw, "  %s\t%s\n", savePath(fl.Path), saveDescribeField(fl, s.names))
					}
					tw.Flush()
				}
				var pretty bytes.Buffer
				json.Indent(&pretty, payload, "", "  ")
				fmt.Fprintf(w, "\ncontent (%s JSON):\n%s\n", humanize.IBytes(uint64(len(payload))), pretty.String())
				return nil
			}
			if v.Encoding == "json" {
				fmt.Fprintln(w, "\n(the version says JSON, but its content does not parse as JSON: shown as bytes)")
			}
			fmt.Fprintf(w, "\ncontent: %d bytes", len(payload))
			if len(payload) > saveHexHead {
				fmt.Fprintf(w, ", the first %d below; 'skyloop saves export %s --version %s --out FILE' writes them all", saveHexHead, ref, v.ID)
			}
			fmt.Fprintf(w, "\n%s", hex.Dump(payload[:min(len(payload), saveHexHead)]))
			return nil
		},
	}
	cmd.Flags().StringVar(&version, "version", "", "show this version (an id from 'saves history', or a unique prefix); default: the current one")
	return cmd
}

func newSavesHistoryCmd(a *app, f *savesFlags) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "history GAME/PLAYER/SLOT [--limit N]",
		Short: "List a save slot's versions, newest first: how each was made, device, parents, conflicts",
		Long: `history lists every version of a slot the sinks hold, newest first (by the
hybrid logical clock the devices stamp them with): its id, how it was made
(save; merge of its parents by the typed rules; policy:NAME when a game's
policy decided plain values that differed, listed as its conflicts; resolve
or restore, with the version whose content it took), the device, time, play
time, progress and description, its parents, whether it is a head (no newer
version descends from it) or the current version, and the sinks that hold
it.`,
		Args: savesRefArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usageError("--limit %d: want 0 (all) or more", limit)
			}
			ref, _ := parseSaveRef(args[0])
			ctx := cmd.Context()
			r, err := a.startSaves(ctx, f, false)
			if err != nil {
				return err
			}
			defer r.close()
			s, err := r.openSlot(ctx, ref, false)
			if err != nil {
				return err
			}
			out := saveHistoryJSON{Ref: ref.String(), Versions: []SaveVersionJSON{}, Conflict: s.conflictJSON(), Warnings: s.warnings}
			for i, v := range s.history {
				if limit > 0 && i == limit {
					break
				}
				out.Versions = append(out.Versions, s.versionJSON(v))
			}
			if f.asJSON {
				return a.printJSON(out)
			}
			w := a.stdout
			s.printWarnings(a)
			fmt.Fprintf(w, "%s: %s, newest first", ref, plural(len(s.history), "version", "versions"))
			if len(out.Versions) < len(s.history) {
				fmt.Fprintf(w, " (the %d newest shown)", len(out.Versions))
			}
			fmt.Fprintln(w)
			for _, v := range out.Versions {
				var marks []string
				if v.Current {
					marks = append(marks, "CURRENT")
				}
				if v.Head {
					marks = append(marks, "HEAD")
				}
				fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(fmt.Sprintf("%s  %s  %s", v.ID, saveMade(v), strings.Join(marks, " "))))
				printSaveVersion(w, v, false)
			}
			if c := out.Conflict; c != nil {
				fmt.Fprintln(w)
				printSaveConflict(w, ref, c)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 0, "list at most `N` versions (the newest); 0: all")
	return cmd
}

func newSavesExportCmd(a *app, f *savesFlags) *cobra.Command {
	var version, out string
	var force, thumbnail bool
	cmd := &cobra.Command{
		Use:   "export GAME/PLAYER/SLOT --out FILE [--version ID] [--thumbnail] [--force]",
		Short: "Write a save version's content (or its thumbnail) to a file, byte for byte",
		Long: `export writes the content of a slot's current version, or of --version ID, to
--out FILE exactly as the game saved it (decrypted, for an encrypted slot),
or with --thumbnail the version's thumbnail PNG. An existing FILE is never
replaced without --force (exit 2), as for the recordings' export; the file
is written beside it and renamed when complete. The content of an encrypted
slot is written readable by its owner only (mode 0600).`,
		Args: savesRefArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, _ := parseSaveRef(args[0])
			if out == "" {
				return usageError("saves export wants --out FILE (see '%s --help')", cmd.CommandPath())
			}
			if err := export.CheckOut("file", out, force); err != nil {
				if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
					return err
				}
				return usageError("%v", err)
			}
			if st, err := os.Stat(filepath.Dir(out)); err != nil || !st.IsDir() {
				return usageError("--out %s: directory %s does not exist", out, filepath.Dir(out))
			}
			r, s, v, payload, thumb, err := a.readPicked(cmd.Context(), f, ref, version)
			if r != nil {
				defer r.close()
			}
			if err != nil {
				return err
			}
			what, data := "payload", payload
			if thumbnail {
				if len(thumb) == 0 {
					return &exitError{code: 1, err: fmt.Errorf("%s version %s has no thumbnail", ref, v.ID)}
				}
				what, data = "thumbnail", thumb
			}
			mode := os.FileMode(0o644)
			if v.Encrypted {
				mode = 0o600
			}
			if err := writeSaveFile(out, data, mode, force); err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			res := saveExportJSON{Ref: ref.String(), Version: v.ID, What: what, Out: out, Bytes: len(data), SHA256: hex.EncodeToString(sum[:])}
			if f.asJSON {
				return a.printJSON(res)
			}
			s.printWarnings(a)
			fmt.Fprintf(a.stdout, "%s version %s: wrote %s (%d bytes, sha256 %s) to %s\n", ref, v.ID, what, len(data), res.SHA256, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write to `FILE`")
	cmd.Flags().StringVar(&version, "version", "", "export this version (an id from 'saves history', or a unique prefix); default: the current one")
	cmd.Flags().BoolVar(&thumbnail, "thumbnail", false, "write the version's thumbnail (PNG) instead of its content")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing --out file")
	return cmd
}

// writeSaveFile writes data to path through a temporary file in the
// same directory, put in place whole; without force an existing path is
// refused at the last moment too (a hard link, which fails if it exists).
func writeSaveFile(path string, data []byte, mode os.FileMode, force bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	name := tmp.Name()
	defer os.Remove(name)
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("--out %s: %w", path, err)
	}
	if force {
		err = os.Rename(name, path)
	} else if err = os.Link(name, path); err != nil && !errors.Is(err, fs.ErrExist) {
		// No hard links here: check again and rename (a file created in
		// between would be replaced; the link closes that gap elsewhere).
		if _, serr := os.Lstat(path); serr == nil {
			err = fs.ErrExist
		} else {
			err = os.Rename(name, path)
		}
	}
	if errors.Is(err, fs.ErrExist) {
		return usageError("--out %s %v: pass --force to replace it", path, export.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("--out %s: %w", path, err)
	}
	return nil
}

func newSavesRestoreCmd(a *app, f *savesFlags) *cobra.Command {
	var version string
	var yes bool
	cmd := &cobra.Command{
		Use:   "restore GAME/PLAYER/SLOT --version ID [--yes]",
		Short: "Make an earlier version of a save slot current again (a new version; nothing is lost)",
		Long: `restore makes version ID of a slot (see 'saves history') current again: it
writes a new version with ID's plain values and metadata — typed fields
joined with the current versions', so a restore never lowers a best score
or un-counts coins — made "restore" by the
device "skyloop tool", descending from every current version — so the games
take it as the newest, on every device, at their next sync — and Puts it to
every selected sink. Nothing is overwritten or deleted: the versions it
replaces stay in the history, and another restore brings them back.

It shows what it will do and asks on a terminal; without one it refuses
unless --yes is given.`,
		Args: savesRefArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if version == "" {
				return usageError("saves restore wants --version ID, the version to bring back (see 'skyloop saves history %s')", args[0])
			}
			return a.rewriteSave(cmd, f, args[0], version, yes, "restore")
		},
	}
	cmd.Flags().StringVar(&version, "version", "", "the version `ID` to restore (from 'saves history'; a unique prefix will do)")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "write without asking")
	return cmd
}

func newSavesResolveCmd(a *app, f *savesFlags) *cobra.Command {
	var keep string
	var yes bool
	cmd := &cobra.Command{
		Use:   "resolve GAME/PLAYER/SLOT --keep ID [--yes]",
		Short: "End a save slot's conflict by keeping one of its versions (a new version; nothing is lost)",
		Long: `resolve ends the conflict of a slot that has several current versions (list
and show say CONFLICT): it writes a new version with the content of the one
to keep (--keep ID, one of the versions show and history list as heads),
made "resolve" by the device "skyloop tool", descending from all of them, and
Puts it to every selected sink. The other versions stay in the history.

The new version has the kept version's plain values; its typed fields
(best scores, counters, unlocks, last-writer values) are joined with every
current version's, as the games merge them (engine/saves' Store.Resolve), so
counts added or unlocks made on another device are never lost.

It shows what it will do and asks on a terminal; without one it refuses
unless --yes is given. A slot without a conflict is refused: restore brings
back an earlier version.`,
		Args: savesRefArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if keep == "" {
				return usageError("saves resolve wants --keep ID, the version to keep (see 'skyloop saves show %s')", args[0])
			}
			return a.rewriteSave(cmd, f, args[0], keep, yes, "resolve")
		},
	}
	cmd.Flags().StringVar(&keep, "keep", "", "the version `ID` to keep (a unique prefix will do)")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "write without asking")
	return cmd
}

// rewriteSave is restore and resolve: one new version, Put to every
// selected sink.
func (a *app) rewriteSave(cmd *cobra.Command, f *savesFlags, arg, id string, yes bool, made string) error {
	ref, _ := parseSaveRef(arg)
	if !yes && !canAsk() {
		return usageError("saves %s writes a new version of %s to the sinks and asks first, but stdin is not a terminal: pass --yes to write without asking", made, ref)
	}
	ctx := cmd.Context()
	r, err := a.startSaves(ctx, f, true)
	if err != nil {
		return err
	}
	defer r.close()
	s, err := r.openSlot(ctx, ref, true)
	if err != nil {
		return err
	}
	v, err := s.pick(id)
	if err != nil {
		return err
	}
	conflict := s.conflictJSON()
	if made == "resolve" && conflict == nil {
		return &exitError{code: 1, err: fmt.Errorf("%s has no conflict to resolve (it has one current version, %s); to go back to an earlier version use 'skyloop saves restore %s --version ID'", ref, s.current.ID, ref)}
	}
	if made == "restore" && conflict == nil && v.ID == s.current.ID {
		cur := s.versionJSON(v)
		if f.asJSON {
			return a.printJSON(saveWriteJSON{Ref: ref.String(), Version: cur, Sinks: cur.Sinks})
		}
		fmt.Fprintf(a.stdout, "%s: version %s is the current version already: nothing written\n", ref, v.ID)
		return nil
	}
	w := a.stdout
	if f.asJSON {
		w = a.stderr // the plan, for the question; stdout carries only the JSON
	}
	sinks := r.sinkNames()
	var question string
	if made == "restore" {
		fmt.Fprintf(w, "%s: restore version %s (%s)\n", ref, v.ID, saveSummary(v))
		fmt.Fprintf(w, "  current: %s (%s)\n", s.current.ID, saveSummary(s.current))
		if conflict != nil {
			fmt.Fprintf(w, "  the slot is in conflict: the new version ends it (%d versions)\n", len(conflict.Heads))
		}
		question = fmt.Sprintf("restore %s to version %s, writing a new version to sink(s) %s?", ref, v.ID, sinks)
	} else {
		fmt.Fprintf(w, "%s: %s in conflict; keep %s (%s)\n", ref, plural(len(conflict.Heads), "version", "versions"), v.ID, saveSummary(v))
		for _, h := range conflict.Heads {
			if h.ID != v.ID {
				fmt.Fprintf(w, "  and set aside %s (%s)\n", h.ID, saveSummary(s.byID[h.ID]))
			}
		}
		if !v.Head {
			fmt.Fprintf(w, "  note: %s is not one of the conflict's versions: its older content is kept\n", v.ID)
		}
		question = fmt.Sprintf("resolve %s by keeping version %s, writing a new version to sink(s) %s?", ref, v.ID, sinks)
	}
	if !yes && !a.confirm(bufio.NewReader(stdin), question) {
		return &exitError{code: 1, err: fmt.Errorf("not confirmed: nothing written")}
	}
	var nv saves.Version
	if made == "restore" {
		nv, err = s.part.st.Restore(ref.slot, v.ID)
	} else {
		nv, err = s.part.st.Resolve(ref.slot, v.ID)
	}
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("%s %s: %w", made, ref, err)}
	}
	key := saves.Prefix(ref.game, ref.player) + ref.slot + "/" + nv.ID + ".sav"
	if err := r.flush(ctx, s.part.st, key); err != nil {
		return &exitError{code: 1, err: fmt.Errorf("%s %s: new version %s: %w", made, ref, nv.ID, err)}
	}
	nj := toVersionJSON(nv, true, r.up.sinksWith(key))
	if f.asJSON {
		return a.printJSON(saveWriteJSON{Ref: ref.String(), Version: nj, Sinks: nj.Sinks, Written: true})
	}
	what := "restored"
	if made == "resolve" {
		what = "resolved"
	}
	fmt.Fprintf(a.stdout, "%s %s: new version %s (the content of %s) written to sink(s) %s\n", what, ref, nv.ID, v.ID, strings.Join(nj.Sinks, ", "))
	return nil
}

// --- references ---

// saveRef is GAME/PLAYER/SLOT.
type saveRef struct{ game, player, slot string }

func (r saveRef) String() string { return r.game + "/" + r.player + "/" + r.slot }

func parseSaveRef(s string) (saveRef, error) {
	p := strings.Split(s, "/")
	if len(p) != 3 || p[0] == "" || p[1] == "" {
		return saveRef{}, fmt.Errorf("%q: want GAME/PLAYER/SLOT, as 'skyloop saves list' prints it", s)
	}
	if err := saves.ValidSlot(p[2]); err != nil {
		return saveRef{}, fmt.Errorf("%q: %w", s, err)
	}
	return saveRef{p[0], p[1], p[2]}, nil
}

func savesRefArg(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usageError("%s wants one GAME/PLAYER/SLOT argument, got %d (see '%s --help')", cmd.CommandPath(), len(args), cmd.CommandPath())
	}
	if _, err := parseSaveRef(args[0]); err != nil {
		return usageError("%v", err)
	}
	return nil
}

// saveKeyParts splits a version key GAME/PLAYER/saves/SLOT/ID.sav.
func saveKeyParts(key string) (game, player, slot, id string, ok bool) {
	p := strings.Split(key, "/")
	if len(p) != 5 || p[2] != "saves" || p[0] == "" || p[1] == "" || !saves.IsVersionKey(key) {
		return "", "", "", "", false
	}
	return p[0], p[1], p[3], strings.TrimSuffix(p[4], ".sav"), true
}

// --- the run: sinks, passphrase, stores ---

// readPicked opens ref's slot read-only and reads the version --version
// picks (the current one when it is ""), for show and export. r, when not
// nil, is to be closed, whatever err is.
func (a *app) readPicked(ctx context.Context, f *savesFlags, ref saveRef, version string) (r *savesRun, s *slotView, v saves.Version, payload, thumb []byte, err error) {
	if r, err = a.startSaves(ctx, f, false); err != nil {
		return nil, nil, v, nil, nil, err
	}
	if s, err = r.openSlot(ctx, ref, false); err != nil {
		return r, nil, v, nil, nil, err
	}
	if v, err = s.pick(version); err != nil {
		return r, nil, v, nil, nil, err
	}
	if payload, thumb, err = s.part.st.Read(ref.slot, v.ID); err != nil {
		return r, nil, v, nil, nil, &exitError{code: 1, err: fmt.Errorf("%s version %s: %w", ref, v.ID, err)}
	}
	return r, s, v, payload, thumb, nil
}

// savesRun is one saves command's sinks, passphrase and stores.
type savesRun struct {
	a      *app
	f      *savesFlags
	sinks  []*skysync.Sink
	tmp    string
	stores []*saves.Store
	up     *saveUploader // restore, resolve: Put to every sink

	pass      string // "" until known
	passFrom  string // where pass came from, for messages
	passAsked bool
}

func (a *app) startSaves(ctx context.Context, f *savesFlags, upload bool) (*savesRun, error) {
	r := &savesRun{a: a, f: f}
	if f.passFile != "" {
		data, err := os.ReadFile(f.passFile)
		if err != nil {
			return nil, usageError("--passphrase-file: %v", err)
		}
		line, _, _ := strings.Cut(string(data), "\n")
		r.pass, r.passFrom = strings.TrimSuffix(line, "\r"), "--passphrase-file "+f.passFile
		if r.pass == "" {
			return nil, usageError("--passphrase-file %s: its first line is empty", f.passFile)
		}
	} else if p := os.Getenv(envSavesPassphrase); p != "" {
		r.pass, r.passFrom = p, "$"+envSavesPassphrase
	}
	sinks, err := a.openSinks(ctx, f.sink)
	if err != nil {
		return nil, err
	}
	r.sinks = sinks
	if upload {
		var ps []savePutter
		for _, s := range sinks {
			ps = append(ps, s)
		}
		r.up = newSaveUploader(ps)
	}
	r.tmp, err = os.MkdirTemp("", "skyloop-saves-")
	if err != nil {
		closeSinks(sinks)
		return nil, err
	}
	return r, nil
}

func (r *savesRun) close() {
	for _, st := range r.stores {
		st.Close()
	}
	closeSinks(r.sinks)
	os.RemoveAll(r.tmp)
}

func (r *savesRun) sinkNames() string { return sinkNames(r.sinks) }

// askPassphrase returns the passphrase, asking on the terminal once per
// run; "" when there is none and no terminal to ask on.
func (r *savesRun) askPassphrase(what string) (string, error) {
	if r.pass != "" || r.passAsked {
		return r.pass, nil
	}
	r.passAsked = true
	f, ok := stdin.(*os.File)
	if !ok || !isTerminal(f) {
		return "", nil
	}
	fmt.Fprintf(r.a.stderr, "passphrase for the encrypted saves of %s: ", what)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(r.a.stderr)
	if err != nil {
		return "", fmt.Errorf("reading the passphrase: %w", err)
	}
	p := strings.TrimSuffix(string(b), "\r")
	if p == "" {
		return "", usageError("no passphrase typed")
	}
	r.pass, r.passFrom = p, "the terminal"
	return p, nil
}

// saveFound is what discover found: per GAME/PLAYER, each sink's version
// objects.
type saveFound struct {
	order   []saveGamePlayer
	objects map[saveGamePlayer]map[string][]sdk.ObjectInfo // sink name → objects
}

type saveGamePlayer struct{ game, player string }

// discover lists every sink (under GAME/ with --game) and keeps the keys
// that name save versions, */*/saves/*/*.sav.
func (r *savesRun) discover(ctx context.Context, game, player string) (saveFound, error) {
	found := saveFound{objects: map[saveGamePlayer]map[string][]sdk.ObjectInfo{}}
	prefix := ""
	if game != "" {
		prefix = game + "/"
		if player != "" {
			prefix = saves.Prefix(game, player)
		}
	}
	for _, s := range r.sinks {
		err := s.List(ctx, prefix, func(o sdk.ObjectInfo) error {
			g, p, _, _, ok := saveKeyParts(o.Key)
			if !ok || game != "" && g != game || player != "" && p != player {
				return nil
			}
			gp := saveGamePlayer{g, p}
			if found.objects[gp] == nil {
				found.objects[gp] = map[string][]sdk.ObjectInfo{}
				found.order = append(found.order, gp)
			}
			found.objects[gp][s.Name()] = append(found.objects[gp][s.Name()], o)
			return nil
		})
		if err != nil {
			return found, fmt.Errorf("sink %s: listing saves: %w", s.Name(), err)
		}
	}
	sort.Slice(found.order, func(i, j int) bool {
		a, b := found.order[i], found.order[j]
		return a.game < b.game || a.game == b.game && a.player < b.player
	})
	return found, nil
}

// savesView is one player's saves of one game as the run sees them: one
// store, or two where both encrypted and plain versions are present (a
// store with a passphrase refuses plain versions and one without cannot
// read encrypted ones).
type savesView struct {
	r            *savesRun
	game, player string
	parts        []*viewPart
	shared       *remoteShared
	refused      map[string]saveRefusal // version keys no part could read
}

type viewPart struct {
	st        *saves.Store
	encrypted bool
}

// openView opens and syncs the stores of GAME/PLAYER: all its slots, or
// slot only. objects, when not nil, are the sinks' listings to replay
// (discover's), else each sink is listed.
func (r *savesRun) openView(ctx context.Context, game, player, slot string, objects map[string][]sdk.ObjectInfo) (*savesView, error) {
	v := &savesView{r: r, game: game, player: player, shared: &remoteShared{bodies: map[string][]byte{}, held: map[string][]string{}}, refused: map[string]saveRefusal{}}
	listPrefix := saves.Prefix(game, player)
	if slot != "" {
		listPrefix += slot + "/"
	}
	var remotes []saves.Remote
	for _, s := range r.sinks {
		rm := &saveRemote{sink: s, prefix: listPrefix, shared: v.shared}
		if objects != nil {
			rm.cached, rm.replay = objects[s.Name()], true
		}
		remotes = append(remotes, rm)
	}
	what := game + "/" + player
	if slot != "" {
		what += "/" + slot
	}
	first, firstLog, err := r.openPart(ctx, game, player, remotes, r.pass)
	if err != nil {
		return nil, err
	}
	v.parts = append(v.parts, first)
	logs := []*saveLog{firstLog}
	need, plain := firstLog.has(saves.ErrNeedPassphrase), firstLog.has(saves.ErrNotEncrypted)
	var second *viewPart
	var secondLog *saveLog
	switch {
	case !first.encrypted && need:
		var pass string
		if pass, err = r.askPassphrase(what); err != nil {
			return nil, err
		}
		if pass != "" {
			second, secondLog, err = r.openPart(ctx, game, player, remotes, pass)
		}
	case first.encrypted && plain:
		second, secondLog, err = r.openPart(ctx, game, player, remotes, "")
	}
	if err != nil {
		return nil, err
	}
	if second != nil {
		v.parts = append(v.parts, second)
		logs = append(logs, secondLog)
	}
	// What no part read: a refusal another part explains (a plain version
	// in the encrypted store, an encrypted one in the plain store) is not.
	for _, l := range logs {
		for key, rf := range l.refusals() {
			if second != nil && (errors.Is(rf.err, saves.ErrNeedPassphrase) || errors.Is(rf.err, saves.ErrNotEncrypted)) {
				continue
			}
			if old, ok := v.refused[key]; !ok || errors.Is(old.err, saves.ErrNotEncrypted) || errors.Is(old.err, saves.ErrNeedPassphrase) {
				v.refused[key] = rf
			}
		}
	}
	if len(v.parts) == 2 {
		for key := range v.refused {
			if v.readable(key) {
				delete(v.refused, key)
			}
		}
	}
	return v, nil
}

// readable reports whether some part holds the version at key.
func (v *savesView) readable(key string) bool {
	_, _, slot, id, _ := saveKeyParts(key)
	for _, p := range v.parts {
		for _, h := range p.st.History(slot) {
			if h.ID == id {
				return true
			}
		}
	}
	return false
}

// openPart opens a store in a fresh directory with the view's remotes and
// syncs it once.
func (r *savesRun) openPart(ctx context.Context, game, player string, remotes []saves.Remote, pass string) (*viewPart, *saveLog, error) {
	dir, err := os.MkdirTemp(r.tmp, "store-")
	if err != nil {
		return nil, nil, err
	}
	log := &saveLog{got: map[string]saveRefusal{}}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if r.a.logger != nil {
		logger = r.a.logger
	}
	opts := saves.Options{
		Dir: dir, Game: game, Player: player, DeviceName: savesDeviceName,
		Remotes: remotes, Poll: -1, Policy: saves.Manual, Passphrase: pass,
		History: 1 << 30, // every version: nothing pruned, every one readable
		// The tool reads whatever the games wrote; their own limits apply
		// when they write.
		MaxSlotBytes: 1 << 40, MaxGameBytes: 1 << 50,
		Logger: logger,
	}
	if r.up != nil {
		opts.Upload = r.up.put
	}
	st, err := saves.Open(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("%s/%s: %w", game, player, err)
	}
	r.stores = append(r.stores, st)
	if err := withoutVanished(st.Sync(ctx)); err != nil {
		return nil, nil, fmt.Errorf("%s/%s: %w", game, player, err)
	}
	for _, rf := range st.Refused() {
		log.got[rf.Key] = saveRefusal{key: rf.Key, sink: rf.Sink, err: rf.Err}
	}
	return &viewPart{st: st, encrypted: pass != ""}, log, nil
}

// withoutVanished drops from a Sync's errors the versions that were
// listed but gone when fetched: a game deletes its own old versions from
// the sinks (Options.History), and one may do so while the tool reads.
func withoutVanished(err error) error {
	if err == nil {
		return nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var keep []error
	for _, e := range errs {
		if !errors.Is(e, sdk.ErrNotFound) {
			keep = append(keep, e)
		}
	}
	return errors.Join(keep...)
}

// partFor is the part that holds slot, the encrypted one first.
func (v *savesView) partFor(slot string) *viewPart {
	var found *viewPart
	for _, p := range v.parts {
		if len(p.st.History(slot)) > 0 && (found == nil || p.encrypted) {
			found = p
		}
	}
	return found
}

// slotRefusals are the refused versions of slot, by key.
func (v *savesView) slotRefusals(slot string) []saveRefusal {
	var out []saveRefusal
	for key, rf := range v.refused {
		if _, _, s, _, _ := saveKeyParts(key); s == slot {
			out = append(out, rf)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// refusalText sums up why versions were refused.
func (v *savesView) refusalText(rfs []saveRefusal) string {
	var parts []string
	byErr := map[string][]string{}
	var order []string
	for _, rf := range rfs {
		msg := rf.err.Error()
		if errors.Is(rf.err, saves.ErrNeedPassphrase) {
			msg = "encrypted: give the passphrase with --passphrase-file FILE or $" + envSavesPassphrase + " (on a terminal the tool asks)"
		} else if errors.Is(rf.err, saves.ErrWrongPassphrase) {
			msg = fmt.Sprintf("%v (from %s)", rf.err, v.r.passFrom)
		}
		if byErr[msg] == nil {
			order = append(order, msg)
		}
		byErr[msg] = append(byErr[msg], rf.sink)
	}
	for _, msg := range order {
		sinks := saveUniq(byErr[msg])
		parts = append(parts, fmt.Sprintf("%s: %s in sink(s) %s", msg, plural(len(byErr[msg]), "version", "versions"), strings.Join(sinks, ", ")))
	}
	return strings.Join(parts, "; ")
}

// rows are list's rows for the view.
func (v *savesView) rows() []saveSlotRow {
	slots := map[string]bool{}
	for _, p := range v.parts {
		for _, s := range p.st.Slots() {
			slots[s.Slot] = true
		}
	}
	for key := range v.refused {
		_, _, s, _, _ := saveKeyParts(key)
		slots[s] = true
	}
	var out []saveSlotRow
	for _, slot := range saveSortedKeys(slots) {
		ref := saveRef{v.game, v.player, slot}
		row := saveSlotRow{Ref: ref.String(), Game: v.game, Player: v.player, Slot: slot}
		if rfs := v.slotRefusals(slot); len(rfs) > 0 {
			row.Error = v.refusalText(rfs)
		}
		if p := v.partFor(slot); p != nil {
			sv := v.slot(p, ref)
			row.SaveVersionJSON = savePtr(sv.versionJSON(sv.current))
			row.Versions = len(sv.history)
			if c := sv.conflict; c != nil {
				row.Conflict = true
				for _, h := range c.Versions {
					row.Heads = append(row.Heads, h.ID)
				}
				row.ConflictFields = c.Fields
			}
		}
		out = append(out, row)
	}
	return out
}

// slotView is one slot of a view: its versions, current version and
// conflict.
type slotView struct {
	v        *savesView
	ref      saveRef
	part     *viewPart
	history  []saves.Version // newest first
	byID     map[string]saves.Version
	current  saves.Version
	conflict *saves.Conflict
	names    map[string]string // device id → device name
	warnings []string
}

func (v *savesView) slot(p *viewPart, ref saveRef) *slotView {
	s := &slotView{v: v, ref: ref, part: p, history: p.st.History(ref.slot), byID: map[string]saves.Version{}, names: map[string]string{}}
	for _, h := range s.history {
		s.byID[h.ID] = h
		if h.DeviceID != "" && h.DeviceID != "merge" {
			s.names[h.DeviceID] = h.Device
		}
	}
	for _, c := range p.st.Conflicts() {
		if c.Slot == ref.slot {
			s.conflict = &c
		}
	}
	for _, cur := range p.st.Slots() {
		if cur.Slot == ref.slot {
			s.current = cur
		}
	}
	return s
}

// openSlot opens the view of one slot and checks it can be used: found,
// and (for a write) no version refused for its passphrase.
func (r *savesRun) openSlot(ctx context.Context, ref saveRef, write bool) (*slotView, error) {
	v, err := r.openView(ctx, ref.game, ref.player, ref.slot, nil)
	if err != nil {
		return nil, err
	}
	rfs := v.slotRefusals(ref.slot)
	p := v.partFor(ref.slot)
	var locked bool
	for _, rf := range rfs {
		if errors.Is(rf.err, saves.ErrWrongPassphrase) || errors.Is(rf.err, saves.ErrNeedPassphrase) {
			locked = true
		}
	}
	switch {
	case p == nil && len(rfs) > 0:
		err := fmt.Errorf("%s: no version reads: %s", ref, v.refusalText(rfs))
		if saveOnlyNeedPass(rfs) {
			return nil, usageError("%v", err)
		}
		for _, rf := range rfs {
			if errors.Is(rf.err, saves.ErrWrongPassphrase) {
				return nil, &exitError{code: 1, err: fmt.Errorf("%s: %w (from %s) for %s in sink(s) %s", ref, saves.ErrWrongPassphrase, r.passFrom, plural(len(rfs), "version", "versions"), strings.Join(saveUniq(refusalSinks(rfs)), ", "))}
			}
		}
		return nil, &exitError{code: 1, err: err}
	case p == nil:
		return nil, &exitError{code: 1, err: fmt.Errorf("%s: no such save slot in sink(s) %s", ref, r.sinkNames())}
	case write && locked:
		return nil, &exitError{code: 1, err: fmt.Errorf("%s: not writing a new version while some of the slot's versions do not read — %s", ref, v.refusalText(rfs))}
	}
	s := v.slot(p, ref)
	if len(rfs) > 0 {
		s.warnings = append(s.warnings, "some versions do not read and are left out: "+v.refusalText(rfs))
	}
	if len(v.parts) == 2 {
		for _, o := range v.parts {
			if o != p && len(o.st.History(ref.slot)) > 0 {
				s.warnings = append(s.warnings, fmt.Sprintf("%s has both encrypted and unencrypted versions; shown: the %s ones (the other %d are a separate lineage)",
					ref, saveEncWord(p.encrypted), len(o.st.History(ref.slot))))
			}
		}
	}
	return s, nil
}

func saveOnlyNeedPass(rfs []saveRefusal) bool {
	for _, rf := range rfs {
		if !errors.Is(rf.err, saves.ErrNeedPassphrase) {
			return false
		}
	}
	return true
}

func saveEncWord(enc bool) string {
	if enc {
		return "encrypted"
	}
	return "unencrypted"
}

func (s *slotView) printWarnings(a *app) {
	for _, w := range s.warnings {
		fmt.Fprintln(a.stderr, "skyloop: warning:", w)
	}
}

// pick returns the version id names: the current one for "", else the
// version with that id or the only one it is a prefix of.
func (s *slotView) pick(id string) (saves.Version, error) {
	if id == "" {
		return s.current, nil
	}
	if v, ok := s.byID[id]; ok {
		return v, nil
	}
	var matches []string
	for _, h := range s.history {
		if strings.HasPrefix(h.ID, id) {
			matches = append(matches, h.ID)
		}
	}
	switch len(matches) {
	case 1:
		return s.byID[matches[0]], nil
	case 0:
		return saves.Version{}, &exitError{code: 1, err: fmt.Errorf("%s has no version %s (see 'skyloop saves history %s')", s.ref, id, s.ref)}
	}
	return saves.Version{}, &exitError{code: 1, err: fmt.Errorf("%s: version %q matches %d versions: %s", s.ref, id, len(matches), strings.Join(matches, ", "))}
}

func (s *slotView) versionJSON(v saves.Version) SaveVersionJSON {
	key := saves.Prefix(s.ref.game, s.ref.player) + s.ref.slot + "/" + v.ID + ".sav"
	return toVersionJSON(v, v.ID == s.current.ID, s.v.shared.heldBy(key))
}

func (s *slotView) conflictJSON() *saveConflictJSON {
	if s.conflict == nil {
		return nil
	}
	c := &saveConflictJSON{Fields: s.conflict.Fields}
	for _, h := range s.conflict.Versions {
		c.Heads = append(c.Heads, s.versionJSON(h))
	}
	return c
}

func toVersionJSON(v saves.Version, current bool, sinks []string) SaveVersionJSON {
	parents := v.Parents
	if parents == nil {
		parents = []string{}
	}
	if sinks == nil {
		sinks = []string{}
	}
	return SaveVersionJSON{
		ID: v.ID, Made: v.Made, Restored: v.Restored, Device: v.Device, DeviceID: v.DeviceID, Clock: v.Clock.String(),
		Updated: v.Updated, PlayTimeMS: v.PlayTime.Milliseconds(), Progress: v.Progress, Description: v.Description,
		Size: v.Size, Encoding: v.Encoding, Encrypted: v.Encrypted, Parents: parents, Conflicts: v.Conflicts,
		Head: v.Head, Current: current, Sinks: sinks,
	}
}

// flush waits until the new version (and any merge Sync made) is in every
// sink, or a sink refuses it for good, or savesUploadWait passes.
func (r *savesRun) flush(ctx context.Context, st *saves.Store, key string) error {
	return r.up.flush(ctx, st, key, savesUploadWait)
}

// --- remotes and uploads ---

// saveRemote is a sink as a store's saves.Remote: it lists only prefix
// (the player's saves, or one slot's), or replays discover's listing; it
// keeps what it fetched, so a second store of the same view fetches
// nothing again, and which sinks hold which keys. It offers no Delete: the
// tool never deletes.
type saveRemote struct {
	sink   *skysync.Sink
	prefix string
	cached []sdk.ObjectInfo
	replay bool
	shared *remoteShared
}

type remoteShared struct {
	mu     gosync.Mutex
	bodies map[string][]byte   // sink + "\x00" + key → bytes
	held   map[string][]string // key → sinks that list it
}

func (r *saveRemote) Name() string { return r.sink.Name() }

func (r *saveRemote) List(ctx context.Context, prefix string, fn func(sdk.ObjectInfo) error) error {
	// The view's prefix (the player's saves, or one slot's), and only
	// what the store asked for within it.
	each := func(o sdk.ObjectInfo) error {
		if !strings.HasPrefix(o.Key, prefix) || !strings.HasPrefix(o.Key, r.prefix) {
			return nil
		}
		r.shared.hold(o.Key, r.sink.Name())
		return fn(o)
	}
	if r.replay {
		for _, o := range r.cached {
			if err := each(o); err != nil {
				return err
			}
		}
		return nil
	}
	return r.sink.List(ctx, r.prefix, each)
}

func (r *saveRemote) Get(ctx context.Context, key string, w io.Writer, opts sdk.GetOptions) (sdk.ObjectInfo, error) {
	id := r.sink.Name() + "\x00" + key
	r.shared.mu.Lock()
	b, ok := r.shared.bodies[id]
	r.shared.mu.Unlock()
	if ok && opts == (sdk.GetOptions{}) {
		_, err := w.Write(b)
		return sdk.ObjectInfo{Key: key, Size: int64(len(b))}, err
	}
	var buf bytes.Buffer
	info, err := r.sink.Get(ctx, key, &buf, opts)
	if err != nil {
		return info, err
	}
	if opts == (sdk.GetOptions{}) {
		r.shared.mu.Lock()
		r.shared.bodies[id] = buf.Bytes()
		r.shared.mu.Unlock()
	}
	_, err = w.Write(buf.Bytes())
	return info, err
}

func (s *remoteShared) hold(key, sink string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.held[key] {
		if n == sink {
			return
		}
	}
	s.held[key] = append(s.held[key], sink)
}

func (s *remoteShared) heldBy(key string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.held[key]...)
}

// saveUploader is the stores' Upload for restore and resolve: a Put of the
// version object to every sink (each once).
type saveUploader struct {
	sinks     []savePutter
	mu        gosync.Mutex
	done      map[string]map[string]bool // key → sinks that have it
	last      map[string]error           // sink → its last failure
	fatal     chan struct{}              // closed when a sink refuses for good
	fatalOnce gosync.Once
}

// savePutter is where the uploader Puts (an engine/sync Sink).
type savePutter interface {
	Name() string
	Put(ctx context.Context, key string, r io.Reader, opts sdk.PutOptions) (sdk.ObjectInfo, error)
}

// saveUploadError marks the uploader's own failures in the store's log (the
// tool reports them itself).
type saveUploadError struct{ error }

func (e saveUploadError) Unwrap() error { return e.error }

func newSaveUploader(sinks []savePutter) *saveUploader {
	return &saveUploader{sinks: sinks, done: map[string]map[string]bool{}, last: map[string]error{}, fatal: make(chan struct{})}
}

// flush waits until st has handed every version to put and key is in
// every sink, or a sink refuses for good, or wait passes.
func (u *saveUploader) flush(ctx context.Context, st *saves.Store, key string, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	go func() {
		select {
		case <-u.fatal:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := st.Flush(ctx)
	if err == nil && len(u.sinksWith(key)) == len(u.sinks) {
		return nil
	}
	return u.failure(key, wait)
}

func (u *saveUploader) put(ctx context.Context, key string, data []byte) error {
	var errs []error
	for _, s := range u.sinks {
		u.mu.Lock()
		have := u.done[key][s.Name()]
		u.mu.Unlock()
		if have {
			continue
		}
		_, err := s.Put(ctx, key, bytes.NewReader(data), sdk.PutOptions{Size: int64(len(data))})
		u.mu.Lock()
		if err != nil {
			err = fmt.Errorf("sink %s: writing %s: %w", s.Name(), key, err)
			u.last[s.Name()] = err
			errs = append(errs, err)
			if !sdk.IsRetryable(err) {
				u.fatalOnce.Do(func() { close(u.fatal) })
			}
		} else {
			if u.done[key] == nil {
				u.done[key] = map[string]bool{}
			}
			u.done[key][s.Name()] = true
		}
		u.mu.Unlock()
	}
	if len(errs) > 0 {
		return saveUploadError{errors.Join(errs...)}
	}
	return nil
}

// sinksWith names the sinks that took key, in config order.
func (u *saveUploader) sinksWith(key string) []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []string
	for _, s := range u.sinks {
		if u.done[key][s.Name()] {
			out = append(out, s.Name())
		}
	}
	return out
}

// failure says which sinks took key and why the others did not.
func (u *saveUploader) failure(key string, wait time.Duration) error {
	ok := u.sinksWith(key)
	u.mu.Lock()
	defer u.mu.Unlock()
	var why []string
	for _, s := range u.sinks {
		if !u.done[key][s.Name()] {
			if err := u.last[s.Name()]; err != nil {
				why = append(why, err.Error())
			} else {
				why = append(why, "sink "+s.Name()+": not written within "+wait.String())
			}
		}
	}
	where := "no sink"
	if len(ok) > 0 {
		where = "sink(s) " + strings.Join(ok, ", ") + " only"
	}
	return fmt.Errorf("written to %s: %s (run the command again: it writes another new version, nothing is lost)", where, strings.Join(why, "; "))
}

// --- the stores' log: refused versions ---

// saveRefusal is a version object a store refused to read.
type saveRefusal struct {
	key, sink string
	err       error
}

// saveLog holds the remote objects a store refused (a wrong or missing
// passphrase, damage, not a save), from Store.Refused.
type saveLog struct {
	mu  gosync.Mutex
	got map[string]saveRefusal
}

func (l *saveLog) refusals() map[string]saveRefusal {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]saveRefusal, len(l.got))
	for k, v := range l.got {
		out[k] = v
	}
	return out
}

func (l *saveLog) has(target error) bool {
	for _, rf := range l.refusals() {
		if errors.Is(rf.err, target) {
			return true
		}
	}
	return false
}

// --- typed fields ---

// saveTypedFields finds the typed fields of a JSON save (types.go in
// engine/saves: objects with a "$best", "$least", "$counter", "$unlocks"
// or "$lww" key) and reads their values.
func saveTypedFields(payload []byte) []saveFieldJSON {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var tree any
	if dec.Decode(&tree) != nil {
		return nil
	}
	var out []saveFieldJSON
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if f, ok := saveTypedField(path, x); ok {
				out = append(out, f)
				return
			}
			for _, k := range saveSortedKeys(x) {
				walk(path+"/"+k, x[k])
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s/%d", path, i), e)
			}
		}
	}
	walk("", tree)
	return out
}

func saveTypedField(path string, m map[string]any) (saveFieldJSON, bool) {
	f := saveFieldJSON{Path: path}
	if lww, ok := m["$lww"]; ok {
		f.Kind, f.Value = "value", lww
		f.At, _ = m["at"].(string)
		f.By, _ = m["by"].(string)
		return f, true
	}
	if len(m) != 1 {
		return f, false
	}
	switch {
	case m["$best"] != nil:
		f.Kind, f.Value = "best", m["$best"]
	case saveHasKey(m, "$least"):
		f.Kind, f.Value = "least", m["$least"]
	case m["$counter"] != nil:
		counts, ok := m["$counter"].(map[string]any)
		if !ok {
			return f, false
		}
		f.Kind, f.Devices = "counter", map[string]int64{}
		var total int64
		for dev, n := range counts {
			num, ok := n.(json.Number)
			c, err := num.Int64()
			if !ok || err != nil {
				return f, false
			}
			f.Devices[dev] = c
			total += c
		}
		f.Value = total
	case m["$unlocks"] != nil:
		names, ok := m["$unlocks"].(map[string]any)
		if !ok {
			return f, false
		}
		f.Kind, f.Unlocked = "unlocks", map[string]string{}
		for n, at := range names {
			s, _ := at.(string)
			f.Unlocked[n] = s
		}
		f.Value = len(names)
	default:
		return f, false
	}
	return f, true
}

func saveHasKey(m map[string]any, k string) bool { _, ok := m[k]; return ok }

// saveDescribeField is a typed field's value in words.
func saveDescribeField(f saveFieldJSON, names map[string]string) string {
	dev := func(id string) string {
		if n := names[id]; n != "" {
			return fmt.Sprintf("%s (%s)", n, id)
		}
		return id
	}
	switch f.Kind {
	case "best":
		return fmt.Sprintf("best %v (merges: the higher wins)", f.Value)
	case "least":
		if f.Value == nil {
			return "least: none yet (merges: the lower wins)"
		}
		return fmt.Sprintf("least %v (merges: the lower wins)", f.Value)
	case "counter":
		var parts []string
		for _, id := range saveSortedKeys(f.Devices) {
			parts = append(parts, fmt.Sprintf("%s %d", dev(id), f.Devices[id]))
		}
		if len(parts) == 0 {
			return "counter 0 (no device has counted yet)"
		}
		return fmt.Sprintf("counter %v = %s", f.Value, strings.Join(parts, " + "))
	case "unlocks":
		var parts []string
		for _, n := range saveSortedKeys(f.Unlocked) {
			at := f.Unlocked[n]
			if t, err := time.Parse(time.RFC3339Nano, at); err == nil {
				at = saveTime(t)
			}
			parts = append(parts, fmt.Sprintf("%s (%s)", n, at))
		}
		if len(parts) == 0 {
			return "unlocks: none yet"
		}
		return fmt.Sprintf("unlocks %d: %s", f.Value, strings.Join(parts, ", "))
	case "value":
		v, _ := json.Marshal(f.Value)
		set := "never set"
		if h, err := saves.ParseHLC(f.At); err == nil && !h.IsZero() {
			set = "set " + saveTime(h.Time())
			if f.By != "" {
				set += " by " + dev(f.By)
			}
		}
		return fmt.Sprintf("value %s (%s; merges: the later wins)", v, set)
	}
	return ""
}

// --- text output ---

func printSaveVersion(w io.Writer, v SaveVersionJSON, made bool) {
	if made {
		fmt.Fprintf(w, "  made:        %s\n", saveMade(v))
	}
	dev := v.Device
	if v.DeviceID != "" {
		dev += " (" + v.DeviceID + ")"
	}
	fmt.Fprintf(w, "  device:      %s\n", dev)
	fmt.Fprintf(w, "  updated:     %s\n", saveTime(v.Updated))
	fmt.Fprintf(w, "  play time:   %s\n", savePlay(v.PlayTimeMS))
	fmt.Fprintf(w, "  progress:    %s\n", saveProgress(v.Progress))
	if v.Description != "" {
		fmt.Fprintf(w, "  description: %s\n", v.Description)
	}
	enc := v.Encoding
	if v.Encrypted {
		enc += ", encrypted"
	}
	fmt.Fprintf(w, "  size:        %s (%d bytes, %s)\n", humanize.IBytes(uint64(v.Size)), v.Size, enc)
	if len(v.Parents) > 0 {
		fmt.Fprintf(w, "  parents:     %s\n", strings.Join(v.Parents, ", "))
	}
	if len(v.Conflicts) > 0 {
		fmt.Fprintf(w, "  conflicts:   %s (plain values the policy decided)\n", strings.Join(savePaths(v.Conflicts), ", "))
	}
	sinks := "none: merged here (the games make the same merge at their next sync)"
	if len(v.Sinks) > 0 {
		sinks = strings.Join(v.Sinks, ", ")
	}
	fmt.Fprintf(w, "  sinks:       %s\n", sinks)
}

func printSaveConflict(w io.Writer, ref saveRef, c *saveConflictJSON) {
	fmt.Fprintf(w, "CONFLICT: %s are current, written without seeing each other", plural(len(c.Heads), "version", "versions"))
	if len(c.Fields) > 0 {
		fmt.Fprintf(w, "; they differ in %s", strings.Join(savePaths(c.Fields), ", "))
	}
	fmt.Fprintln(w, ":")
	for _, h := range c.Heads {
		fmt.Fprintf(w, "  %s  %s, %s, play time %s, progress %s", h.ID, h.Device, saveTime(h.Updated), savePlay(h.PlayTimeMS), saveProgress(h.Progress))
		if h.Description != "" {
			fmt.Fprintf(w, ", %q", h.Description)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "keep one with: skyloop saves resolve %s --keep ID\n", ref)
}

func saveMade(v SaveVersionJSON) string {
	switch {
	case v.Restored != "" && (v.Made == "restore" || v.Made == "resolve"):
		return v.Made + " of " + v.Restored
	case v.Made == "merge" || strings.HasPrefix(v.Made, "policy:"):
		return fmt.Sprintf("%s of %d versions", v.Made, len(v.Parents))
	}
	return v.Made
}

func saveSummary(v saves.Version) string {
	parts := []string{v.Made, "by " + v.Device, saveTime(v.Updated), "play time " + savePlay(v.PlayTime.Milliseconds()), "progress " + saveProgress(v.Progress)}
	if v.Description != "" {
		parts = append(parts, fmt.Sprintf("%q", v.Description))
	}
	return strings.Join(parts, ", ")
}

func saveTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func savePlay(ms int64) string {
	return (time.Duration(ms) * time.Millisecond).Round(time.Second).String()
}

func saveProgress(p float64) string { return fmt.Sprintf("%g", p) }

func savePath(path string) string {
	if path == "" {
		return "(the whole save)"
	}
	return path
}

func savePaths(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = savePath(p)
	}
	return out
}

func saveOneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func saveSortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func saveUniq(ss []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func refusalSinks(rfs []saveRefusal) []string {
	out := make([]string, len(rfs))
	for i, rf := range rfs {
		out[i] = rf.sink
	}
	return out
}

func savePtr[T any](v T) *T { return &v }
