package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// cStruct builds a datagram the way the C++ senders do, independently of
// the encoder: a zeroed 1060-byte mtc_message_type filled field by field
// with snprintf-like copies, then cut to n bytes.
type cStruct struct {
	hdr      string // written from byte 0 like snprintf(&hdr[0], 18, "%s", sig)
	mac      string // written from byte 17 (send_mtc_cmd)
	ver, rev uint16
	res, cmd uint32
	num      uint32
	parm     [5]uint32
	buf      string
}

func (c cStruct) bytes(n int) []byte {
	b := make([]byte, MaxSize)
	copy(b[:17], c.hdr)
	copy(b[17:64], c.mac)
	binary.LittleEndian.PutUint16(b[64:], c.ver)
	binary.LittleEndian.PutUint16(b[66:], c.rev)
	binary.LittleEndian.PutUint32(b[68:], c.res)
	binary.LittleEndian.PutUint32(b[72:], c.cmd)
	binary.LittleEndian.PutUint32(b[76:], c.num)
	for i, p := range c.parm {
		binary.LittleEndian.PutUint32(b[80+4*i:], p)
	}
	copy(b[100:], c.buf)
	return b[:n]
}

func TestLayoutOffsets(t *testing.T) {
	m := Message{Signature: SigRequest, MAC: "aa:bb:cc:dd:ee:ff", Version: 0x0102, Revision: 0x0304,
		Reserved: 0x05060708, Command: 0x090a0b0c, Num: 5, Parm: [5]uint32{0x11, 0x22, 0x33, 0x44, 0x55},
		Buf: "hello", Size: SizeTerminated}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 106 {
		t.Fatalf("len %d, want 100+5+1", len(b))
	}
	if got := string(b[:34]); got != "cgts mtc cmd req:aa:bb:cc:dd:ee:ff" {
		t.Errorf("header %q", got)
	}
	if b[34] != 0 {
		t.Error("MAC not NUL-terminated")
	}
	want := map[int][]byte{
		64: {0x02, 0x01}, 66: {0x04, 0x03}, 68: {0x08, 0x07, 0x06, 0x05}, 72: {0x0c, 0x0b, 0x0a, 0x09},
		76: {5, 0, 0, 0}, 80: {0x11, 0, 0, 0}, 84: {0x22, 0, 0, 0}, 96: {0x55, 0, 0, 0}, 100: []byte("hello\x00"),
	}
	for off, w := range want {
		if !bytes.Equal(b[off:off+len(w)], w) {
			t.Errorf("bytes at %d = % x, want % x", off, b[off:off+len(w)], w)
		}
	}
	c := cStruct{hdr: "cgts mtc cmd req:", mac: "aa:bb:cc:dd:ee:ff", ver: 0x0102, rev: 0x0304, res: 0x05060708,
		cmd: 0x090a0b0c, num: 5, parm: m.Parm, buf: "hello"}.bytes(106)
	if !bytes.Equal(b, c) {
		t.Errorf("encoder and C layout differ:\n% x\n% x", b, c)
	}
}

func TestSizing(t *testing.T) {
	for _, c := range []struct {
		size Sizing
		buf  string
		want int
	}{
		{SizeTerminated, "", 101}, {SizeTerminated, "abc", 104}, {SizeExact, "", 100}, {SizeExact, "abc", 103},
		{SizeFull, "", 1060}, {SizeFull, strings.Repeat("x", 959), 1060},
	} {
		m := Message{Signature: SigWorker, Buf: c.buf, Size: c.size}
		b, err := m.MarshalBinary()
		if err != nil || len(b) != c.want || m.Len() != c.want {
			t.Errorf("%v %q: %d bytes (Len %d), %v; want %d", c.size, c.buf, len(b), m.Len(), err, c.want)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	valid := cStruct{hdr: "cgts mtc message:", cmd: 5, num: 4}.bytes(100)
	badSig := cStruct{hdr: "cgts mtc nonsense", cmd: 5}.bytes(100)
	num6 := cStruct{hdr: "cgts mtc cmd rsp:", num: 6}.bytes(100)
	numHuge := cStruct{hdr: "cgts mtc cmd rsp:", num: 0xffffffff}.bytes(100)
	long := append(cStruct{hdr: "cgts mtc message:"}.bytes(MaxSize), 0)
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"7 bytes", valid[:7], ErrShort},
		{"99 bytes", valid[:99], ErrShort},
		{"1061 bytes", long, ErrLong},
		{"unknown signature", badSig, ErrSignature},
		{"signature of 17 NULs", make([]byte, 100), ErrSignature},
		{"num 6", num6, ErrNum},
		{"num huge", numHuge, ErrNum},
		{"json truncated", []byte(`{"service":"collectd_notifier"`), ErrJSON},
		{"json not object", []byte(`{]`), ErrJSON},
		{"json too long", append([]byte(`{"a":"`), bytes.Repeat([]byte("x"), 1100)...), ErrLong},
	}
	for _, c := range cases {
		_, err := Decode(c.in)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
			continue
		}
		de, ok := errors.AsType[*DecodeError](err)
		if !ok || de.Len != len(c.in) {
			t.Errorf("%s: %#v not a DecodeError with Len %d", c.name, err, len(c.in))
		}
	}
	var m Message
	if err := m.UnmarshalBinary([]byte(`{"service":"x"}`)); !errors.Is(err, ErrNotBinary) {
		t.Errorf("UnmarshalBinary(JSON) = %v", err)
	}
	if d, err := Decode(valid); err != nil || d.Kind != KindMessage || d.Message.Command != CmdMtcAlive {
		t.Errorf("valid: %+v %v", d, err)
	}
}

func TestDecodeTolerant(t *testing.T) {
	// buffer ends at the first NUL; junk after it is ignored.
	b := cStruct{hdr: "cgts mtc cmd rsp:", cmd: 21, num: 1, buf: "abc\x00junk"}.bytes(108)
	d, err := Decode(b)
	if err != nil || d.Message.Buf != "abc" || d.Message.Size != SizeTerminated {
		t.Fatalf("%+v %v", d.Message, err)
	}
	// buffer ends at the datagram's end (no NUL sent).
	b = cStruct{hdr: "cgts mtc cmd rsp:", cmd: 21, num: 1, buf: "abc"}.bytes(103)
	d, _ = Decode(b)
	if d.Message.Buf != "abc" || d.Message.Size != SizeExact {
		t.Fatalf("%+v", d.Message)
	}
	// 960 buffer bytes without NUL: mtcAgent keeps 959.
	b = cStruct{hdr: "cgts mtc message:", buf: strings.Repeat("y", 960)}.bytes(MaxSize)
	d, err = Decode(b)
	if err != nil || len(d.Message.Buf) != MaxBufferLen || d.Message.Size != SizeFull {
		t.Fatalf("len %d size %v err %v", len(d.Message.Buf), d.Message.Size, err)
	}
	// header bytes after the signature's NUL are not a MAC (an ACK that
	// reuses an addressed request keeps the MAC's tail there).
	ack := cStruct{hdr: "cgts mtc cmd rsp:", mac: "\x00a:bb:cc:dd:ee:ff", ver: 1, cmd: 2}.bytes(100)
	d, err = Decode(ack)
	if err != nil || d.Message.MAC != "" || d.Message.Command != CmdReboot {
		t.Fatalf("%+v %v", d.Message, err)
	}
	// a JSON datagram may carry a trailing NUL and junk.
	d, err = Decode([]byte("{\"service\":\"collectd_notifier\",\"hostname\":\"worker-0\"}\x00\x01\x02"))
	if err != nil || d.Kind != KindJSON || d.JSON.Hostname != "worker-0" {
		t.Fatalf("%+v %v", d, err)
	}
}

// TestCanonicalRoundTrip: every datagram a StarlingX sender produces
// re-encodes to the same bytes.
func TestCanonicalRoundTrip(t *testing.T) {
	alive := `{"hostname":"controller-0","personality":"controller,worker","pxeboot_ip":"169.254.202.2","mgmt_ip":"192.168.204.2","cluster_host_ip":"192.168.206.2","mgmt_mac":"08:00:27:9f:ef:57","interface":"Mgmnt","sequence":145}`
	cmdJSON := `{"address":"192.168.204.1","interface":"Mgmnt"}`
	cases := map[string][]byte{
		"mtcAlive":         cStruct{hdr: "cgts mtc message:", cmd: 5, num: 4, parm: [5]uint32{3600, 1, 0x25, 145}, buf: alive}.bytes(100 + len(alive) + 1),
		"addressed cmd":    cStruct{hdr: "cgts mtc cmd req:", mac: "08:00:27:9f:ef:57", ver: 1, cmd: 2, buf: cmdJSON}.bytes(100 + len(cmdJSON) + 1),
		"hs ack":           cStruct{hdr: "cgts mtc cmd rsp:", ver: 1, cmd: 15, num: 2, parm: [5]uint32{0, EnhancedHostServices}}.bytes(100),
		"hs ack, MAC tail": cStruct{hdr: "cgts mtc cmd rsp:", mac: "\x008:00:27:9f:ef:57", ver: 1, cmd: 15, num: 2, parm: [5]uint32{0, EnhancedHostServices}}.bytes(100),
		"free header":      cStruct{hdr: "cgts mtc message:", mac: "host\x00\x00\x00free\x00bytes", cmd: 5}.bytes(101),
		"result pass":      cStruct{hdr: "cgts mtc cmd rsp:", cmd: 21, num: 1, buf: "none"}.bytes(104),
		"result failed":    cStruct{hdr: "cgts mtc cmd rsp:", cmd: 21, num: 1, parm: [5]uint32{107}, buf: "/etc/services.d/worker/a failed ; rc:1"}.bytes(138),
		"hwmond full":      cStruct{hdr: "mtce event msg  :", ver: 2, cmd: uint32(EventHwmonMajor), buf: `{"service":"hwmond","hostname":"worker-1","sensor":"Fan 1"}`}.bytes(MaxSize),
		"empty terminated": cStruct{hdr: "cgts mtc message:", cmd: 7}.bytes(101),
	}
	for name, b := range cases {
		d, err := Decode(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		again, err := d.Message.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Errorf("%s: re-encoded %d bytes (%v), differs from %d", name, len(again), err, len(b))
		}
	}
}

func TestValidateRefuses(t *testing.T) {
	cases := map[string]Message{
		"no signature": {Buf: "x"},
		"num 6":        {Signature: SigWorker, Num: 6},
		"buffer 960":   {Signature: SigWorker, Buf: strings.Repeat("z", 960)},
		"buffer NUL":   {Signature: SigWorker, Buf: "a\x00b"},
		"MAC too long": {Signature: SigRequest, MAC: strings.Repeat("m", 47)},
		"MAC NUL":      {Signature: SigRequest, MAC: "a\x00"},
		"bad sizing":   {Signature: SigWorker, Size: 7},
	}
	for name, m := range cases {
		if _, err := m.MarshalBinary(); err == nil {
			t.Errorf("%s: encoded", name)
		} else if _, ok := errors.AsType[*InvalidError](err); !ok {
			t.Errorf("%s: %v is not an InvalidError", name, err)
		}
	}
	ok := Message{Signature: SigRequest, MAC: strings.Repeat("m", 46), Buf: strings.Repeat("z", 959)}
	if _, err := ok.MarshalBinary(); err != nil {
		t.Errorf("limits refused: %v", err)
	}
}

func TestAppendBinaryAppends(t *testing.T) {
	m := Message{Signature: SigResponse, Command: CmdReboot, Size: SizeExact}
	b, err := m.AppendBinary([]byte("prefix"))
	if err != nil || len(b) != 106 || string(b[:6]) != "prefix" || string(b[6:23]) != "cgts mtc cmd rsp:" {
		t.Fatalf("%q %v", b, err)
	}
}

func TestNames(t *testing.T) {
	if SigEvent.String() != "mtce event msg  :" || Signature(0).Valid() || Signature(13).Valid() || Signature(99).String() != "Signature(99)" {
		t.Error("Signature strings")
	}
	for s := SigRequest; s <= SigLog; s++ {
		if len(s.String()) != 17 {
			t.Errorf("%q is not 17 characters", s)
		}
	}
	if CmdStopWorkerServices.String() != "stop worker host services" || Command(0x999).String() != "unknown(0x999)" ||
		EventLoopback.String() != "loopback" || CmdUnlocked.String() != "unlocked msg" {
		t.Error("Command strings")
	}
	if (FlagConfigured|FlagLocked|0x800).String() != "configured|locked|0x800" || AliveFlags(0).String() != "0" {
		t.Errorf("flags: %q", FlagConfigured|FlagLocked|0x800)
	}
	if HealthHealthy.String() != "healthy" || Health(7).String() != "Health(7)" {
		t.Error("Health strings")
	}
	if SizeExact.String() != "exact" || KindJSON.String() != "json" || DropQueueFull.String() != "queue-full" {
		t.Error("misc strings")
	}
}
