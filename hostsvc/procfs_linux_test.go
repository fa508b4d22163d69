package hostsvc

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestParseStat(t *testing.T) {
	line := "1234 (we ird) (name)) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10 184467\n"
	st, err := parseStat(1234, []byte(line))
	if err != nil || st.ppid != 1 || st.pgid != 1234 || st.state != 'S' || st.start != 987654 {
		t.Fatalf("%+v %v", st, err)
	}
	for _, bad := range []string{"", "1 (x)", "1 (x) S 1 2", "1 (x) SS 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20", "1 (x) S a 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"} {
		if _, err := parseStat(1, []byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	self, err := readStat(os.Getpid())
	if err != nil || self.ppid != os.Getppid() || self.dead() {
		t.Fatalf("self %+v %v", self, err)
	}
}

// FuzzParseStat: the /proc stat decoder never panics and reads back the
// fields of well-formed lines whatever the command name.
func FuzzParseStat(f *testing.F) {
	f.Add("1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 42 1 2", "x", uint32(7))
	f.Add("9 (a) b) (c) Z 3 9 9 0 -1 0 0 0 0 0 0 0 0 0 0 0 0 0 18446744073709551615", ")(", uint32(0))
	f.Add("", "", uint32(1))
	f.Fuzz(func(t *testing.T, line, comm string, start uint32) {
		_, _ = parseStat(1, []byte(line))
		wellFormed := fmt.Sprintf("5 (%s) R 4 3 3 0 -1 0 0 0 0 0 0 0 0 0 0 0 0 0 %d 0 0", comm, start)
		st, err := parseStat(5, []byte(wellFormed))
		if strings.ContainsAny(comm, "\n") {
			return
		}
		if err != nil || st.ppid != 4 || st.pgid != 3 || st.state != 'R' || st.start != uint64(start) {
			t.Fatalf("%q: %+v %v", wellFormed, st, err)
		}
	})
}
