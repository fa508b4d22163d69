package cli

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// Version is the release, set when linking:
//
//	go build -ldflags "-X opendev.org/starlingx/metal-go/cmd/internal/cli.Version=v1.2.3" ./cmd/mtcagent
//
// When empty, VersionString falls back to the module's build information.
var Version string

// VersionString returns the line --version prints:
//
//	mtcagent v1.2.3 (go1.26.8 linux/amd64)
//	mtcagent v0.4.0 (rev 0123456789ab, modified, go1.26.8 linux/amd64)
//
// The version is Version when set, else the main module's version from
// runtime/debug (set by "go install module@version"), else "devel". The VCS
// revision is shown when the build recorded one.
func VersionString(prog string) string {
	bi, ok := debug.ReadBuildInfo()
	return versionString(prog, Version, bi, ok)
}

func versionString(prog, ldflags string, bi *debug.BuildInfo, ok bool) string {
	v := ldflags
	var extra []string
	if ok && bi != nil {
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		var rev string
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if rev != "" {
			extra = append(extra, "rev "+rev[:min(12, len(rev))])
			if modified {
				extra = append(extra, "modified")
			}
		}
	}
	if v == "" {
		v = "devel"
	}
	extra = append(extra, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH)
	return prog + " " + v + " (" + strings.Join(extra, ", ") + ")"
}
