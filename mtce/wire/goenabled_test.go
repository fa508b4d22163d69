package wire

import (
	"errors"
	"strings"
	"testing"
)

func TestGoEnabledMessages(t *testing.T) {
	for _, tc := range []struct {
		g    GoEnabled
		cmd  Command
		text string
	}{
		{GoEnabled{Passed: true, Reason: "ignored"}, CmdMainGoEnabled, ""},
		{GoEnabled{Passed: true, Subfunction: true}, CmdSubfGoEnabled, ""},
		{GoEnabled{Reason: "/etc/goenabled.d/a failed ; rc:1"}, CmdMainGoEnabledFailed, "/etc/goenabled.d/a failed ; rc:1"},
		{GoEnabled{Subfunction: true, Reason: "b timeout"}, CmdSubfGoEnabledFailed, "b timeout"},
		{GoEnabled{Reason: "a\x00b"}, CmdMainGoEnabledFailed, "ab"},
		{GoEnabled{Reason: strings.Repeat("x", 2000)}, CmdMainGoEnabledFailed, strings.Repeat("x", MaxBufferLen)},
	} {
		tc.g.Uptime, tc.g.Health, tc.g.Flags, tc.g.Sequence = 77, HealthHealthy, FlagConfigured|FlagMainGoEnabled, 9
		m, err := NewGoEnabled(tc.g)
		if err != nil {
			t.Fatalf("%+v: %v", tc.g, err)
		}
		if m.Command != tc.cmd || m.Signature != SigWorker || m.Buf != tc.text || m.Num != 4 {
			t.Fatalf("%+v: built %v %q num %d, want %v %q", tc.g, m.Command, m.Buf, m.Num, tc.cmd, tc.text)
		}
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != 100+len(tc.text)+1 {
			t.Fatalf("length %d for a %d-byte text", len(b), len(tc.text))
		}
		d, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := d.Message.GoEnabled()
		if err != nil {
			t.Fatal(err)
		}
		want := tc.g
		want.Reason = tc.text
		if got != want {
			t.Fatalf("decoded %+v, want %+v", got, want)
		}
	}
	m, _ := NewMtcAlive(Alive{Identity: Identity{Interface: 1}})
	if _, err := m.GoEnabled(); !errors.Is(err, ErrWrongMessage) {
		t.Fatalf("mtcAlive read as goEnabled: %v", err)
	}
}

// FuzzGoEnabled: any datagram read as a goEnabled message never panics,
// and a message built from what was read decodes to the same value.
func FuzzGoEnabled(f *testing.F) {
	for _, g := range []GoEnabled{{Passed: true}, {Subfunction: true, Reason: "t failed ; rc:2"}} {
		m, _ := NewGoEnabled(g)
		b, _ := m.MarshalBinary()
		f.Add(b)
	}
	// StarlingX's failed message: the text then the mtcAlive JSON tail.
	f.Add(cStruct{hdr: "cgts mtc message:", num: 4, cmd: 11, buf: `x failed ; rc:1,"interface":"Mgmnt","sequence":3}`}.bytes(160))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Decode(data)
		if err != nil || d.Kind != KindMessage {
			return
		}
		g, err := d.Message.GoEnabled()
		if err != nil {
			return
		}
		m, err := NewGoEnabled(g)
		if err != nil {
			t.Fatalf("%+v does not build: %v", g, err)
		}
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		d2, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		g2, err := d2.Message.GoEnabled()
		if err != nil || g2 != g {
			t.Fatalf("round trip %+v → %+v (%v)", g, g2, err)
		}
	})
}
