package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"gopkg.in/ini.v1"
)

// iniOptions make gopkg.in/ini.v1 read files the way mtce's inih does:
// values are taken verbatim (inline comments, quotes and backslashes are
// handled below, not by ini.v1), and an indented line after a key
// continues it.
var iniOptions = ini.LoadOptions{
	IgnoreInlineComment:        true,
	IgnoreContinuation:         true,
	PreserveSurroundedQuote:    true,
	AllowPythonMultilineValues: true,
	KeyValueDelimiters:         "=:",
}

// iniFile is a parsed INI file: section → key → value, with inih's value
// rules applied.
type iniFile struct {
	path     string
	sections map[string]map[string]string
}

// readINI reads and parses path. A missing file is an error wrapping
// fs.ErrNotExist.
func readINI(path string) (*iniFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parseINI(path, data)
}

func parseINI(path string, data []byte) (*iniFile, error) {
	f, err := ini.LoadSources(iniOptions, protectQuoteOpeners(data))
	if err != nil {
		line, text := locate(data, err)
		text, err = redactSecretLine(text, err)
		return nil, &SyntaxError{File: path, Line: line, Text: text, Err: err}
	}
	out := &iniFile{path: path, sections: make(map[string]map[string]string)}
	for _, s := range f.Sections() {
		keys := s.Keys()
		if len(keys) == 0 {
			continue
		}
		m := make(map[string]string, len(keys))
		for _, k := range keys {
			m[k.Name()] = inihValue(k.Value())
		}
		out.sections[s.Name()] = m
	}
	return out, nil
}

// get returns the value of key in section and whether it is present.
func (f *iniFile) get(section, key string) (string, bool) {
	if f == nil {
		return "", false
	}
	v, ok := f.sections[section][key]
	return v, ok
}

// inihValue applies mtce's inih rules to a value as ini.v1 returns it: an
// inline comment starts at the first ';' that follows a blank, trailing
// blanks go, and of the continuation lines (indented lines after the key)
// the last one that is not a comment replaces the value, as inih hands
// each continuation line to the handler in turn.
func inihValue(raw string) string {
	lines := strings.Split(raw, "\n")
	v := stripComment(lines[0])
	for _, l := range lines[1:] {
		t := strings.TrimLeftFunc(l, cSpace)
		if t == "" || t[0] == ';' || t[0] == '#' {
			continue
		}
		v = stripComment(t)
	}
	return v
}

// stripComment cuts s at the first ';' preceded by a blank (inih's
// find_char_or_comment; a ';' in first position is text) and removes
// trailing blanks.
func stripComment(s string) string {
	for i := 1; i < len(s); i++ {
		if s[i] == ';' && cSpace(rune(s[i-1])) {
			s = s[:i]
			break
		}
	}
	return strings.TrimRightFunc(s, cSpace)
}

// cSpace is C's isspace in the C locale.
func cSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

// locate finds the line an ini.v1 error is about: the longest non-blank
// line of data whose text appears in the error message.
func locate(data []byte, err error) (int, string) {
	msg := err.Error()
	var dl ini.ErrDelimiterNotFound
	if errors.As(err, &dl) {
		msg = dl.Line
	}
	best, text := 0, strings.TrimSpace(msg)
	bestLen := 0
	for i, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if t != "" && len(t) > bestLen && strings.Contains(msg, t) {
			best, text, bestLen = i+1, t, len(t)
		}
	}
	return best, text
}

// protectQuoteOpeners hides from ini.v1 the values it would otherwise
// take for quoted: ini.v1 strips a backtick or `"""` quote closed on the
// same line, and reads on over the following lines (swallowing their keys,
// or failing at the end of the file with the value in its message) when the
// quote is not closed, where inih keeps the text as it is. A key line (not
// indented, not a comment, section or quoted key) whose value opens with
// one of them gets its value, trailing blanks removed, wrapped in `"""`,
// which ini.v1 removes again: it ends the value at the last `"""` of the
// line, the one added.
func protectQuoteOpeners(data []byte) []byte {
	if !bytes.ContainsAny(data, "`") && !bytes.Contains(data, []byte(`"""`)) {
		return data
	}
	out := make([]byte, 0, len(data)+64)
	for line := range bytes.SplitAfterSeq(data, []byte("\n")) {
		out = append(out, protectLine(line)...)
	}
	return out
}

func protectLine(line []byte) []byte {
	if len(line) == 0 || strings.IndexByte("#;[\"`", line[0]) >= 0 || cSpace(rune(line[0])) {
		return line
	}
	i := bytes.IndexAny(line, "=:")
	if i < 0 {
		return line
	}
	v := bytes.TrimLeftFunc(line[i+1:], cSpace)
	if !bytes.HasPrefix(v, []byte("`")) && !bytes.HasPrefix(v, []byte(`"""`)) {
		return line
	}
	out := make([]byte, 0, len(line)+6)
	out = append(out, line[:i+1]...)
	out = append(out, `"""`...)
	out = append(out, bytes.TrimRightFunc(v, cSpace)...)
	out = append(out, `"""`...)
	if bytes.HasSuffix(line, []byte("\n")) {
		out = append(out, '\n')
	}
	return out
}

// redactSecretLine keeps a password out of a syntax error: when the
// offending line's key names a secret (…_pw, …password…, …passwd…,
// …secret…, in any case), the line is reported as its key followed by
// "[redacted]", in the text and in the parser's message.
func redactSecretLine(text string, err error) (string, error) {
	key := strings.TrimSpace(text)
	if i := strings.IndexAny(key, "=: \t"); i >= 0 {
		key = key[:i]
	}
	k := strings.ToLower(key)
	if key == "" || !(strings.HasSuffix(k, "_pw") || strings.Contains(k, "password") ||
		strings.Contains(k, "passwd") || strings.Contains(k, "secret")) {
		return text, err
	}
	red := key + " " + redacted
	msg := strings.ReplaceAll(err.Error(), text, red)
	if rest := strings.TrimLeftFunc(strings.TrimSpace(text)[len(key):], cSpace); rest != "" && strings.Contains(msg, rest) {
		msg = "cannot parse the line of " + key
	}
	return red, errors.New(msg)
}

// isNotExist reports whether err is a missing file.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
