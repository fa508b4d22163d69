package wire

import (
	"bytes"
	"errors"
	"testing"

	"opendev.org/starlingx/metal-go/mtce"
)

// at puts text at a byte offset of a hand-laid datagram.
type at struct {
	off  int
	text string
}

// lay lays out an n-byte datagram by hand: zeros, then each part copied at
// its offset. It uses nothing of the codec, so golden bytes built with it
// test the encoder against the packed mtc_message_type of spec F.2:
// hdr[64]@0, ver u16@64, rev u16@66, res u32@68, cmd u32@72, num u32@76,
// parm[5] u32@80..99, buf@100, all little-endian.
func lay(n int, parts ...at) []byte {
	b := make([]byte, n)
	for _, p := range parts {
		copy(b[p.off:], p.text)
	}
	return b
}

// ackGolden decodes req as a client would receive it, builds the ACK with
// mk, and compares the ACK's bytes with want byte for byte. It also checks
// that the ACK decodes and re-encodes to the same bytes.
func ackGolden(t *testing.T, req []byte, mk func(*Message) (Message, error), want []byte) Message {
	t.Helper()
	d, err := Decode(req)
	if err != nil {
		t.Fatalf("request does not decode: %v", err)
	}
	ack, err := mk(&d.Message)
	if err != nil {
		t.Fatalf("ACK: %v", err)
	}
	got, err := ack.MarshalBinary()
	if err != nil {
		t.Fatalf("ACK does not encode: %v", err)
	}
	if !bytes.Equal(got, want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Errorf("first difference at byte %d: got %#02x, want %#02x", i, got[i], want[i])
				break
			}
		}
		t.Fatalf("ACK bytes (%d):\n% x\nwant (%d):\n% x", len(got), got, len(want), want)
	}
	back, err := Decode(got)
	if err != nil {
		t.Fatalf("ACK does not decode: %v", err)
	}
	if back.Message != ack {
		t.Errorf("ACK decodes to\n%+v\nnot\n%+v", back.Message, ack)
	}
	again, _ := back.Message.MarshalBinary()
	if !bytes.Equal(again, want) {
		t.Errorf("decoded ACK re-encodes to\n% x", again)
	}
	return ack
}

// TestAckGoldenEchoesRequest: the ACK to an addressed request reuses the
// request as received (spec K.8): header bytes 0–17 become
// "cgts mtc cmd rsp:"+NUL; the MAC's tail in bytes 18–33 and its NUL, every
// other free header byte (up to byte 63), ver, rev, res, cmd, num and all
// five parms stay; the buffer goes: 100 bytes (spec K.4).
func TestAckGoldenEchoesRequest(t *testing.T) {
	const info = `{"address":"192.168.204.1","interface":"Mgmnt"}`
	req := lay(100+len(info)+1,
		at{0, "cgts mtc cmd req:"},
		at{17, "08:00:27:9f:ef:57"}, // MAC over the signature's NUL; its NUL at 34
		at{40, "free bytes"},        // nothing StarlingX writes; echoed anyway
		at{63, "\x7f"},              // the header's last byte
		at{64, "\x01\x00"},          // ver 1
		at{66, "\x02\x00"},          // rev 2
		at{68, "\xef\xbe\xad\xde"},  // res 0xdeadbeef
		at{72, "\x14\x00\x00\x00"},  // cmd 20 lazy reboot
		at{76, "\x01\x00\x00\x00"},  // num 1
		at{80, "\x1e\x00\x00\x00"},  // parm[0] 30 s
		at{84, "\x11\x00\x00\x00"},  // parm[1..4]: beyond num, echoed all the same
		at{88, "\x22\x00\x00\x00"},
		at{92, "\x33\x00\x00\x00"},
		at{96, "\x44\x00\x00\x80"},
		at{100, info},
	)
	want := lay(100,
		at{0, "cgts mtc cmd rsp:\x00"},
		at{18, "8:00:27:9f:ef:57"}, // the MAC's tail; byte 34 stays NUL
		at{40, "free bytes"},
		at{63, "\x7f"},
		at{64, "\x01\x00"},
		at{66, "\x02\x00"},
		at{68, "\xef\xbe\xad\xde"},
		at{72, "\x14\x00\x00\x00"},
		at{76, "\x01\x00\x00\x00"},
		at{80, "\x1e\x00\x00\x00"},
		at{84, "\x11\x00\x00\x00"},
		at{88, "\x22\x00\x00\x00"},
		at{92, "\x33\x00\x00\x00"},
		at{96, "\x44\x00\x00\x80"},
	)
	ack := ackGolden(t, req, NewAck, want)
	if ack.MAC != "" {
		t.Errorf("ACK MAC %q: byte 17 is the signature's NUL", ack.MAC)
	}
	if a, err := ack.Ack(); err != nil || a.Command != CmdLazyReboot || a.Enhanced || a.RC != mtce.Pass {
		t.Errorf("read as %+v %v", a, err)
	}
}

// TestAckGoldenUnaddressed: a ver-0 request has no MAC; its free header
// bytes from 18 on are echoed too, and byte 17 stays NUL.
func TestAckGoldenUnaddressed(t *testing.T) {
	req := lay(101,
		at{0, "cgts mtc cmd req:"},
		at{18, "x"}, at{30, "yz"},
		at{72, "\x02\x00\x00\x00"}, // cmd 2 reboot; ver, rev, res, num 0
	)
	want := lay(100,
		at{0, "cgts mtc cmd rsp:"},
		at{18, "x"}, at{30, "yz"},
		at{72, "\x02\x00\x00\x00"},
	)
	ackGolden(t, req, NewAck, want)
}

// TestHostServicesAckGolden: the host-services ACK reuses the request like
// any ACK, then sets num 2, parm[0] = rc and parm[1] = 0x1B0000B1 (spec
// K.4); parm[2..4] stay as received.
func TestHostServicesAckGolden(t *testing.T) {
	const info = `{"address":"192.168.204.1","interface":"Mgmnt"}`
	// As mtcAgent's send_mtc_cmd lays out "stop worker host services".
	stock := lay(100+len(info)+1,
		at{0, "cgts mtc cmd req:"},
		at{17, "08:00:27:9f:ef:57"},
		at{64, "\x01\x00"},         // ver 1
		at{72, "\x0f\x00\x00\x00"}, // cmd 15
		at{100, info},
	)
	stockAck := lay(100,
		at{0, "cgts mtc cmd rsp:\x00"},
		at{18, "8:00:27:9f:ef:57"},
		at{64, "\x01\x00"},
		at{72, "\x0f\x00\x00\x00"},
		at{76, "\x02\x00\x00\x00"}, // num 2
		at{80, "\x00\x00\x00\x00"}, // parm[0] PASS
		at{84, "\xb1\x00\x00\x1b"}, // parm[1] MTC_ENHANCED_HOST_SERVICES
	)
	pass := func(m *Message) (Message, error) { return NewHostServicesAck(m, mtce.Pass) }
	ack := ackGolden(t, stock, pass, stockAck)
	if a, err := ack.Ack(); err != nil || !a.Enhanced || a.RC != mtce.Pass || a.Command != CmdStopWorkerServices {
		t.Errorf("read as %+v %v", a, err)
	}

	// The same request built by this package gives the same ACK.
	built, err := NewHostServicesRequest(mtce.FunctionWorker, false, target)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := built.MarshalBinary(); !bytes.Equal(b, stock) {
		t.Fatalf("NewHostServicesRequest differs from send_mtc_cmd:\n% x\n% x", b, stock)
	}
	direct, err := NewHostServicesAck(&built, mtce.Pass)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := direct.MarshalBinary(); !bytes.Equal(b, stockAck) {
		t.Errorf("ACK of a built request:\n% x\nwant\n% x", b, stockAck)
	}

	// Everything a request may carry: rev, res, free header bytes, num 5
	// and five parms. num, parm[0] and parm[1] are replaced; the rest stays.
	odd := lay(100,
		at{0, "cgts mtc cmd req:"},
		at{17, "aa:bb:cc:dd:ee:ff"},
		at{50, "tail"},
		at{64, "\x01\x00"},
		at{66, "\x07\x00"},         // rev 7
		at{68, "\x04\x03\x02\x01"}, // res 0x01020304
		at{72, "\x13\x00\x00\x00"}, // cmd 19 start storage
		at{76, "\x05\x00\x00\x00"}, // num 5
		at{80, "\x09\x00\x00\x00"},
		at{84, "\x08\x00\x00\x00"},
		at{88, "\x07\x00\x00\x00"},
		at{92, "\x06\x00\x00\x00"},
		at{96, "\x05\x00\x00\x00"},
	)
	oddAck := lay(100,
		at{0, "cgts mtc cmd rsp:\x00"},
		at{18, "a:bb:cc:dd:ee:ff"},
		at{50, "tail"},
		at{64, "\x01\x00"},
		at{66, "\x07\x00"},
		at{68, "\x04\x03\x02\x01"},
		at{72, "\x13\x00\x00\x00"},
		at{76, "\x02\x00\x00\x00"}, // num 2
		at{80, "\xfe\x00\x00\x00"}, // parm[0] FAIL_FIT 254
		at{84, "\xb1\x00\x00\x1b"}, // parm[1] magic
		at{88, "\x07\x00\x00\x00"}, // parm[2..4] as received
		at{92, "\x06\x00\x00\x00"},
		at{96, "\x05\x00\x00\x00"},
	)
	fit := func(m *Message) (Message, error) { return NewHostServicesAck(m, mtce.FailFIT) }
	ack = ackGolden(t, odd, fit, oddAck)
	if a, _ := ack.Ack(); !a.Enhanced || a.RC != mtce.FailFIT {
		t.Errorf("read as %+v", a)
	}
}

// TestHeaderTail: HeaderTail keeps the free header bytes through a decode,
// must not overlap the MAC, and NewAck refuses an unencodable request.
func TestHeaderTail(t *testing.T) {
	b := lay(100, at{0, "cgts mtc cmd req:"}, at{17, "ab"}, at{20, "cd"}, at{63, "\x01"})
	d, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	var want [HeaderTailSize]byte
	want[2], want[3], want[45] = 'c', 'd', 1 // bytes 20, 21, 63; 18 ('b') and 19 (NUL) are the MAC's
	if d.Message.MAC != "ab" || d.Message.HeaderTail != want {
		t.Fatalf("MAC %q tail %q", d.Message.MAC, d.Message.HeaderTail)
	}

	bad := Message{Signature: SigRequest, MAC: "ab", Command: CmdReboot}
	bad.HeaderTail[1] = 'x' // where the MAC's NUL goes
	if _, err := bad.MarshalBinary(); err == nil {
		t.Error("tail over the MAC's NUL encoded")
	} else if _, ok := errors.AsType[*InvalidError](err); !ok {
		t.Errorf("%v is not an InvalidError", err)
	}
	if _, err := NewAck(&bad); err == nil {
		t.Error("ACK to an unencodable request built")
	}
	bad.HeaderTail[1], bad.HeaderTail[2] = 0, 'x' // just after the NUL: fine
	if _, err := bad.MarshalBinary(); err != nil {
		t.Errorf("tail after the MAC refused: %v", err)
	}
	// A 46-byte MAC leaves byte 63 as its terminator.
	long := lay(100, at{0, "cgts mtc cmd req:"}, at{17, "0123456789012345678901234567890123456789012345"}, at{63, "!"})
	d, err = Decode(long)
	if err != nil || len(d.Message.MAC) != MaxMACLen || d.Message.HeaderTail != [HeaderTailSize]byte{} {
		t.Fatalf("MAC %q tail %q %v", d.Message.MAC, d.Message.HeaderTail, err)
	}
	if again, _ := d.Message.MarshalBinary(); again[63] != 0 {
		t.Errorf("byte 63 after a 46-byte MAC re-encoded as %#02x", again[63])
	}
}
