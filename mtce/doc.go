// Package mtce holds the domain types of StarlingX maintenance that every
// other package of this module shares: [Host], its states
// ([AdminState], [OperState], [AvailStatus]), [AdminAction], the host's
// [NodeFunctions] and [Personality], the [SystemType], the [Network]s
// messages travel on, [BMCType], the Horizon [Task] strings and the return
// codes ([RC]) that travel in messages.
//
// The subpackages [opendev.org/starlingx/metal-go/mtce/wire] (the UDP
// messages between mtcAgent and mtcClient) and
// [opendev.org/starlingx/metal-go/mtce/config] (StarlingX's configuration
// files) build on these types.
//
// # Guarantees
//
//   - Every enumeration has a String method that returns exactly the text
//     StarlingX writes (sysinv's host record, mtce's tables in nodeBase.cpp
//     and nodeClass.cpp), and a Parse function that accepts exactly those
//     texts and nothing else. A rejected text gives a *[ParseError] that
//     names it and wraps [ErrInvalid].
//   - "none" is a value, not an error: StarlingX writes it for absent
//     fields (spec J.4), so each state type's zero value is its "none"
//     member and parses from "none". [AdminAction]'s zero value is
//     [ActionNone]. [SystemType] and [Network] have no "none" text; their
//     zero values are invalid, print as "system type(0)" and "network(0)",
//     and refuse to marshal.
//   - The types implement encoding.TextMarshaler and TextUnmarshaler with the
//     same texts, so a [Host] marshals to and from JSON with sysinv's keys.
//     The one lenient unmarshaller is [Task]'s: the task field is free text
//     that sysinv and the VIM write too, so it keeps any text, while
//     [ParseTask] accepts only the texts this package lists.
//   - Numeric values that travel on the wire are kept: [NodeFunctions] bits
//     are nodeBase.h's, [RC] values are returnCodes.h's, and [AdminAction]
//     numbers are mtce's action enum.
//   - Nothing in this package does I/O, starts goroutines, or keeps state;
//     everything is safe for concurrent use.
//
// # Caller duties
//
//   - Use [FunctionsOf] (lenient, mtce's substring rule) to interpret a
//     subfunctions text as mtce does, and [ParseNodeFunctions] only where
//     malformed input must be refused.
//   - mtce lower-cases bm_type before use; do the same before calling
//     [ParseBMCType] on raw sysinv input.
//   - Task texts are limited to [MaxTaskLen] bytes by mtce; the Task...
//     functions stay within it for realistic numbers.
package mtce
