package wire

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"opendev.org/starlingx/metal-go/mtce"
)

// FuzzDecode: arbitrary bytes never panic, and whatever decodes re-encodes
// to a datagram that decodes to the same value. Seeds: f.Add below and
// testdata/fuzz/FuzzDecode (datagrams as StarlingX senders produce them).
func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("{}"))
	f.Add(AppendCollectd(nil, "controller-1", DegradeAssert, "cpu,disk"))
	f.Add(cStruct{hdr: "cgts mtc cmd req:", mac: "aa:bb:cc:dd:ee:ff", ver: 1, cmd: 14, buf: `{"address":"10.0.0.2","interface":"Clstr"}`}.bytes(143))
	f.Add(cStruct{hdr: "cgts mtc cmd rsp:", num: 5, cmd: 21, buf: "x\x00y"}.bytes(MaxSize))
	f.Add(cStruct{hdr: "cgts mtc message:", num: 6}.bytes(100))
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		d, err := Decode(data)
		if !bytes.Equal(orig, data) {
			t.Fatal("Decode modified its input")
		}
		if err != nil {
			if d.Kind != 0 {
				t.Fatalf("error %v with a datagram of kind %v", err, d.Kind)
			}
			return
		}
		if d.Kind == KindJSON {
			return
		}
		b, err := d.Message.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded message does not encode: %v\n%+v", err, d.Message)
		}
		if len(b) != d.Message.Len() {
			t.Fatalf("encoded %d bytes, Len says %d", len(b), d.Message.Len())
		}
		again, err := Decode(b)
		if err != nil || again.Message != d.Message {
			t.Fatalf("re-decode: %v\n%+v\n%+v", err, again.Message, d.Message)
		}
		// Same length means same bytes, up to what the codec drops.
		if len(data) == len(b) && !bytes.Equal(canonical(data), b) {
			t.Fatalf("re-encoded\n%q\nis not the canonical form of\n%q", b, data)
		}
	})
}

// canonical zeroes what the codec does not keep: header byte 63 after a
// 46-byte MAC (it is the MAC's terminator), and buffer bytes from the
// buffer's NUL or byte 959 on. Every other header byte is kept.
func canonical(b []byte) []byte {
	c := bytes.Clone(b)
	if bytes.IndexByte(c[sigLen:sigLen+MaxMACLen], 0) < 0 {
		c[HeaderSize-1] = 0
	}
	end := len(c)
	if i := bytes.IndexByte(c[FixedSize:], 0); i >= 0 {
		end = FixedSize + i
	}
	end = min(end, FixedSize+MaxBufferLen)
	clear(c[end:])
	return c
}

// FuzzRoundTrip: every encodable message decodes to itself, its free
// header bytes (HeaderTail) included.
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint8(SigWorker), "", uint16(0), uint16(0), uint32(0), uint32(5), uint32(4), uint32(60), uint32(1), uint32(0x25), uint32(9), uint32(0), `{"hostname":"h"}`, uint8(SizeTerminated), []byte(nil))
	f.Add(uint8(SigRequest), "aa:bb:cc:dd:ee:ff", uint16(1), uint16(0), uint32(0), uint32(2), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), `{"address":"a","interface":"Mgmnt"}`, uint8(SizeTerminated), []byte(nil))
	f.Add(uint8(SigResponse), "", uint16(0), uint16(0), uint32(0), uint32(21), uint32(1), uint32(107), uint32(0), uint32(0), uint32(0), uint32(0), "s failed ; rc:1", uint8(SizeExact), []byte("\x00\x00\x00free"))
	f.Add(uint8(SigEvent), "", uint16(2), uint16(0), uint32(7), uint32(0x11110003), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), strings.Repeat("j", 959), uint8(SizeFull), []byte(nil))
	f.Fuzz(func(t *testing.T, sig uint8, mac string, ver, rev uint16, res, cmd, num, p0, p1, p2, p3, p4 uint32, buf string, size uint8, tail []byte) {
		m := Message{Signature: Signature(sig), MAC: mac, Version: ver, Revision: rev, Reserved: res, Command: Command(cmd),
			Num: num, Parm: [5]uint32{p0, p1, p2, p3, p4}, Buf: buf, Size: Sizing(size)}
		copy(m.HeaderTail[:], tail)
		b, err := m.MarshalBinary()
		if err != nil {
			if m.Validate() == nil {
				t.Fatalf("valid message failed to encode: %v", err)
			}
			return
		}
		d, err := Decode(b)
		if err != nil {
			t.Fatalf("decode of encoded message: %v\n%+v", err, m)
		}
		// A terminated 959-byte buffer makes a 1060-byte datagram: the
		// same bytes as SizeFull.
		if m.Len() == MaxSize {
			m.Size = SizeFull
		}
		if d.Message != m {
			t.Fatalf("round trip\n%+v\n%+v", d.Message, m)
		}
	})
}

// FuzzIdentity: ParseIdentity never panics, and identities round-trip
// through their exact text.
func FuzzIdentity(f *testing.F) {
	f.Add("controller-0", "controller,worker", "169.254.202.2", "192.168.204.2", "", "08:00:27:9f:ef:57", uint8(1), uint32(145))
	f.Add(`q"uote`, "none", "<&>", "\\", "\x00", "é", uint8(3), uint32(0))
	f.Fuzz(func(t *testing.T, host, pers, pxe, mgmt, clstr, mac string, iface uint8, seq uint32) {
		ParseIdentity(host) // arbitrary text never panics
		id := Identity{host, pers, pxe, mgmt, clstr, mac, mtce.Network(iface), seq}
		b, err := id.MarshalText()
		if err != nil {
			if id.Interface.Valid() {
				t.Fatal(err)
			}
			return
		}
		back, err := ParseIdentity(string(b))
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		for _, s := range []string{host, pers, pxe, mgmt, clstr, mac} {
			if !utf8.ValidString(s) {
				return // invalid UTF-8 is sent as U+FFFD
			}
		}
		if back != id {
			t.Fatalf("%s\n%+v\n%+v", b, back, id)
		}
	})
}

// FuzzEvent: event JSON parsing never panics.
func FuzzEvent(f *testing.F) {
	f.Add(`{"service":"collectd_notifier","hostname":"h","degrade":"assert","resource":"r"}`)
	f.Add(`{"hostname":"h","service":"mtcClient","active_controller_pxeboot_address":"a","features":["pxeboot_mtcAlive"]}`)
	f.Add(`{"features":"x","sensor":1.5e3,"process":null}`)
	f.Fuzz(func(t *testing.T, s string) {
		ev, err := ParseEvent(s)
		if err != nil && (ev.Service != "" || ev.Features != nil) {
			t.Fatalf("error %v with a non-zero event", err)
		}
	})
}

// FuzzResult: result texts never panic the parser, and built results carry
// the status of their kind.
func FuzzResult(f *testing.F) {
	f.Add(uint8(ResultFailed), "/etc/services.d/worker/a", 3, uint32(107), "x failed ; rc:")
	f.Add(uint8(ResultTimeout), "/etc/services.d/controller/timeout", 0, uint32(16), " timeout")
	f.Add(uint8(ResultLaunchFailed), "", -1, uint32(0), "launch failed rc:z")
	f.Fuzz(func(t *testing.T, kind uint8, script string, code int, status uint32, text string) {
		ParseResultText(mtce.RC(status), text)
		m, err := NewHostServicesResult(Result{Kind: ResultKind(kind), Script: script, ExitCode: code, Command: CmdStopWorkerServices})
		if err != nil {
			return
		}
		d, err := Decode(mustMarshal(t, &m))
		if err != nil {
			return // a script with a NUL cannot be sent
		}
		r, err := d.Message.HostServicesResult()
		if err != nil || r.Status != ResultKind(kind).RC() || len(r.Text) > MaxResultText {
			t.Fatalf("%+v %v", r, err)
		}
	})
}

func mustMarshal(t *testing.T, m *Message) []byte {
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
