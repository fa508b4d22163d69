package config

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"opendev.org/starlingx/metal-go/mtce"
)

// Platform is what maintenance reads from /etc/platform/platform.conf and
// the /etc/platform/simplex flag (spec K.5).
type Platform struct {
	// SystemType is derived from system_type and system_mode as
	// mtce.SystemTypeOf does; AIO simplex when the file says nothing usable
	// or does not exist.
	SystemType mtce.SystemType
	// SystemTypeValue and SystemModeValue are the texts as read ("" when
	// absent or unparseable), before lower-casing.
	SystemTypeValue string
	SystemModeValue string
	// Subfunctions is the subfunction= value verbatim ("" when absent),
	// Functions its node functions by mtce's substring rule.
	Subfunctions string
	Functions    mtce.NodeFunctions
	// ManagementInterface and ClusterHostInterface are the
	// management_interface= and cluster_host_interface= values.
	ManagementInterface  string
	ClusterHostInterface string
	// Simplex is set when /etc/platform/simplex exists. It is independent
	// of SystemType: while it exists mtce rejects swacts, sends locked
	// notices without LOCK_PERSIST, and more (spec K.5).
	Simplex bool
	// Exists reports whether platform.conf was found.
	Exists bool

	path string
}

// LoadPlatform reads platform.conf and the simplex flag under cfg.Root.
// platform.conf is not INI: mtce reads it line by line (1023-byte fgets
// chunks) and takes a key from a line that contains the key and matches
// sscanf's "key=%s" from the first column — so no blank before '=', the
// value ends at the first blank, quotes are kept:
//
//   - system_type: the first such line, lower-cased; "standard" gives
//     mtce.SystemStandard. Otherwise the first line containing
//     "system_mode" decides whether or not it matches: lower-cased
//     "duplex", "duplex-direct" or "simplex", anything else AIO simplex.
//   - subfunction= (a subfunctions= line does not match), verbatim;
//     Functions follows mtce's case-sensitive substring rule.
//
// A missing platform.conf is not an error (mtce then assumes AIO simplex
// and waits for the file); Ready reports what is still missing. Other read
// errors are returned, naming the file. Unknown keys are ignored.
func LoadPlatform(cfg Config) (*Platform, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	path := cfg.Path(PlatformConfPath)
	data, err := os.ReadFile(path)
	if err != nil && !isNotExist(err) {
		return nil, fmt.Errorf("config: %w", err)
	}
	p := parsePlatform(data)
	p.path = path
	p.Exists = err == nil
	_, serr := os.Stat(cfg.Path(SimplexFlagPath))
	p.Simplex = serr == nil
	return p, nil
}

// Ready returns nil once platform.conf has what mtce's daemons wait for
// at startup (subfunction and management_interface), and otherwise an
// error wrapping ErrIncomplete that names what is missing. mtce retries
// every 5 s until it is ready.
func (p *Platform) Ready() error {
	var missing []string
	if !p.Exists {
		return fmt.Errorf("%w: %s does not exist", ErrIncomplete, p.path)
	}
	if p.Subfunctions == "" {
		missing = append(missing, "subfunction")
	}
	if p.ManagementInterface == "" {
		missing = append(missing, "management_interface")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s has no %s", ErrIncomplete, p.path, strings.Join(missing, " or "))
	}
	return nil
}

const fgetsChunk = 1023 // fgets(buffer, 1024, ...) returns at most 1023 bytes

func parsePlatform(data []byte) *Platform {
	p := &Platform{}
	var typeDone, modeDone, subfDone, mgmtDone, clstrDone bool
	for len(data) > 0 {
		// One fgets call: up to and including '\n', at most 1023 bytes.
		n := bytes.IndexByte(data, '\n') + 1
		if n == 0 || n > fgetsChunk {
			n = min(len(data), fgetsChunk)
		}
		line := string(data[:n])
		data = data[n:]
		// fgets stops at '\n', but C string functions stop at a NUL.
		if i := strings.IndexByte(line, 0); i >= 0 {
			line = line[:i]
		}
		if !typeDone && strings.Contains(line, "system_type") {
			if v, ok := scanKey(line, "system_type"); ok {
				p.SystemTypeValue, typeDone = v, true
			}
		}
		if !modeDone && strings.Contains(line, "system_mode") {
			p.SystemModeValue, _ = scanKey(line, "system_mode")
			modeDone = true
		}
		if !subfDone && strings.Contains(line, "subfunction") {
			if v, ok := scanKey(line, "subfunction"); ok {
				p.Subfunctions, subfDone = v, true
			}
		}
		if !mgmtDone && strings.Contains(line, "management_interface") {
			if v, ok := scanKey(line, "management_interface"); ok {
				p.ManagementInterface, mgmtDone = v, true
			}
		}
		if !clstrDone && strings.Contains(line, "cluster_host_interface") {
			if v, ok := scanKey(line, "cluster_host_interface"); ok {
				p.ClusterHostInterface, clstrDone = v, true
			}
		}
	}
	p.SystemType = mtce.SystemTypeOf(p.SystemTypeValue, p.SystemModeValue)
	p.Functions = mtce.FunctionsOf(p.Subfunctions)
	return p
}

// scanKey is sscanf(line, "<key>=%1023s", value) == 1: the line must start
// with key and '=', then blanks are skipped and the value is the run of
// non-blank bytes that follows, which must not be empty.
func scanKey(line, key string) (string, bool) {
	rest, ok := strings.CutPrefix(line, key+"=")
	if !ok {
		return "", false
	}
	rest = strings.TrimLeftFunc(rest, cSpace)
	end := strings.IndexFunc(rest, cSpace)
	if end < 0 {
		end = len(rest)
	}
	if end == 0 {
		return "", false
	}
	return rest[:min(end, fgetsChunk)], true
}
