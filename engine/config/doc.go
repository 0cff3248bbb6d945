// Package config reads the player's TOML config file, shared by games and
// the skyloop tool: the player name, capture settings and the sinks that
// recordings and saves go to.
//
// Where it sits in the flow: first. A game's -config flag (or the defaults,
// when there is no file) decides whether engine/capture records, how it
// reads back and encodes, and which sinks receive the segments. Unknown keys
// and bad values are errors that name the key and the accepted values, so a
// typo never silently turns capture off.
package config
