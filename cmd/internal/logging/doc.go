// Package logging renders the daemons' log records with go-hclog through a
// small slog.Handler bridge, so that the libraries keep taking a
// *slog.Logger and only the mains know about hclog.
//
// # Guarantees
//
//   - The Handler passes testing/slogtest: attributes, groups, WithAttrs and
//     WithGroup, empty attributes and empty groups dropped, groups with an
//     empty key inlined, a zero record time left out.
//   - Every value is resolved (slog.Value.Resolve) before it is rendered, in
//     groups and in WithAttrs too, so a type whose LogValue redacts (a
//     keystone token, config.Secret) is written only in its redacted form.
//   - hclog has no groups: a group's members are written with dotted keys,
//     "group.key" (text `group.key=value`, JSON `"group.key": value`).
//   - Levels map onto hclog's five: below slog.LevelDebug is TRACE,
//     [Debug, Info) DEBUG, [Info, Warn) INFO, [Warn, Error) WARN, Error and
//     above ERROR. Enabled compares against Options.Level, read on every
//     call, so a *slog.LevelVar changes the level at run time.
//   - Each record is one Write to Options.Output, stamped with the record's
//     own time (not the time it was formatted). Records are serialised: the
//     handler is safe for concurrent use.
//   - A record never forges another: in text, line breaks in the message
//     are written as \n and \r, and hclog writes a multi-line value as
//     an indented block whose lines start with "  | ".
//   - Durations and times are written as text (time.Duration.String,
//     RFC 3339 with nanoseconds), errors by their message.
//
// # Caller duties
//
//   - Values that must not be logged must be of a type whose LogValue
//     redacts them, and whose String, Format and MarshalText redact too:
//     a slog.Any value that is not a LogValuer is written by hclog with %v
//     (text) or encoding/json (JSON), which do not look at LogValue.
//   - Keys containing "." are indistinguishable from group members.
//   - Do not write to Options.Output elsewhere while logging, or lines may
//     interleave.
package logging
