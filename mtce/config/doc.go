// Package config reads, as they are, the configuration files StarlingX
// hosts already have, and applies StarlingX maintenance's defaults and
// corrections to them:
//
//   - /etc/mtc.conf and /etc/mtc.ini ([LoadMtc]);
//   - /etc/platform/platform.conf and the /etc/platform/simplex flag
//     ([LoadPlatform]);
//   - SysInv's API address in /etc/sysinv/sysinv.conf ([LoadSysinv]),
//     Barbican's in /etc/barbican/barbican.conf ([LoadBarbican]) and the
//     VIM port in the NFV plugin's config.ini ([LoadVIM]).
//
// Every path is joined to [Config].Root, so tests and simulators point the
// loaders at a temporary directory.
//
// # Guarantees
//
//   - INI files are parsed by gopkg.in/ini.v1 with mtce's inih rules on
//     top: an inline comment starts at a ';' that follows a blank, quotes
//     and '#' inside values are kept, an indented line after a key
//     continues it (the last non-comment continuation line wins), keys and
//     sections are case-sensitive, the last of duplicate keys wins, and
//     unknown keys are ignored. Integers are read as C's atoi reads them.
//   - Defaults and corrections follow StarlingX exactly (see [LoadMtc] for
//     the list). Each change of a value read from a file is logged through
//     Config.Logger as a warning naming the key, the value read and the
//     value used, and is listed in [Mtc].Corrections.
//   - A file that cannot be parsed is a *[SyntaxError] naming the file and
//     the offending line's number and text; when that line's key names a
//     password or secret, its value is replaced by "[redacted]". Missing
//     required keys are *[MissingKeyError]s (all of them, joined). No
//     loader panics on any input, and none keeps files open or starts
//     goroutines.
//   - Secrets (the keystone password) are [Secret]s, redacted in every
//     printed and logged form.
//
// # Differences from mtce, on purpose
//
//   - mtce's inih reports a malformed line and carries on; these loaders
//     refuse the file, as a daemon should not run on half-read settings.
//   - Keys that precede any section header are in section DEFAULT (inih
//     gives them the section "").
//
// Values that open with a backtick or `"""`, which ini.v1 alone would take
// for quotes (stripping them, or reading on over the following lines), are
// kept as they are, as inih keeps them.
//
// # Caller duties
//
//   - Call [Platform.Ready] and retry (mtce waits 5 s) until platform.conf
//     names the subfunction and management interface.
//   - Check [Endpoint.Valid] before using an endpoint: the files may not
//     name a host or port.
package config
