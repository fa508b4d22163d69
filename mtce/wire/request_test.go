package wire

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
)

// fakeClient scripts a client on the far end of a pipe, in virtual time.
type fakeClient struct {
	t   *testing.T
	end *PipeEnd
}

func (c fakeClient) recv() *Message {
	m, err := c.end.Recv(context.Background())
	if err != nil {
		c.t.Errorf("client recv: %v", err)
		return &Message{}
	}
	return m
}

func (c fakeClient) send(m Message, err error) {
	if err != nil {
		c.t.Errorf("client build: %v", err)
		return
	}
	if err := c.end.Send(context.Background(), &m); err != nil {
		c.t.Errorf("client send: %v", err)
	}
}

const hsTimeout = 300 * time.Second

func stopWorker(t *testing.T) Message {
	m, err := NewHostServicesRequest(mtce.FunctionWorker, false, target)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// run starts the agent side in the bubble and returns its outcome and the
// virtual time it took.
func run(t *testing.T, client func(fakeClient)) (Result, error, time.Duration) {
	agent, cl := Pipe(8)
	defer agent.Close()
	go client(fakeClient{t, cl})
	req := stopWorker(t)
	start := time.Now()
	r, err := RequestHostServices(t.Context(), agent, &req, hsTimeout)
	return r, err, time.Since(start)
}

func TestRequestEnhancedPass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, err, took := run(t, func(c fakeClient) {
			req := c.recv()
			time.Sleep(2 * time.Second)
			c.send(NewHostServicesAck(req, mtce.Pass))
			time.Sleep(118 * time.Second)
			c.send(NewHostServicesResult(Result{Kind: ResultPass, Command: CmdStartWorkerServices}))
		})
		if err != nil || r.Kind != ResultPass || r.Status != mtce.Pass || r.Legacy || r.Command != CmdStartWorkerServices {
			t.Fatalf("%+v %v", r, err)
		}
		if took != 120*time.Second {
			t.Errorf("took %v, want 120s", took)
		}
	})
}

func TestRequestNoAck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, err, took := run(t, func(c fakeClient) { c.recv() })
		if !errors.Is(err, ErrNoAck) || mtce.RCOf(err) != mtce.FailNoCmdAck || r != (Result{}) {
			t.Fatalf("%+v %v", r, err)
		}
		if took != AckTimeout {
			t.Errorf("gave up after %v, want %v", took, AckTimeout)
		}
	})
}

func TestRequestAckJustInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, err, took := run(t, func(c fakeClient) {
			req := c.recv()
			time.Sleep(AckTimeout - time.Nanosecond)
			c.send(NewHostServicesAck(req, mtce.Pass))
		})
		// ACK at 10s-1ns, then no result: umbrella timeout 305s after launch.
		if !errors.Is(err, ErrNoResult) || mtce.RCOf(err) != mtce.FailTimeout {
			t.Fatalf("%v", err)
		}
		if took != hsTimeout+ResultTimeoutExtension {
			t.Errorf("gave up after %v, want %v", took, hsTimeout+ResultTimeoutExtension)
		}
	})
}

func TestRequestEmptyScriptDirectoryWaitsFullTimeout(t *testing.T) {
	// spec K.4: a stock client with no scripts ACKs and never sends cmd 21.
	synctest.Test(t, func(t *testing.T) {
		_, err, took := run(t, func(c fakeClient) {
			req := c.recv()
			c.send(NewHostServicesAck(req, mtce.Pass))
		})
		if !errors.Is(err, ErrNoResult) || took != 305*time.Second {
			t.Fatalf("%v after %v", err, took)
		}
	})
}

func TestRequestResultAtDeadlineEdge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, err, took := run(t, func(c fakeClient) {
			req := c.recv()
			c.send(NewHostServicesAck(req, mtce.Pass))
			time.Sleep(hsTimeout + ResultTimeoutExtension - time.Nanosecond)
			c.send(NewHostServicesResult(Result{Kind: ResultPass}))
		})
		if err != nil || r.Kind != ResultPass || took != 305*time.Second-time.Nanosecond {
			t.Fatalf("%+v %v after %v", r, err, took)
		}
	})
}

func TestRequestLegacyAck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, err, took := run(t, func(c fakeClient) {
			req := c.recv()
			time.Sleep(time.Second)
			c.send(NewAck(req)) // echoes num/parm: no magic
		})
		if err != nil || !r.Legacy || r.Kind != ResultPass || r.Status != mtce.Pass || took != time.Second {
			t.Fatalf("%+v %v after %v", r, err, took)
		}
	})
}

func TestRequestAckRejects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, err, _ := run(t, func(c fakeClient) {
			req := c.recv()
			c.send(NewHostServicesAck(req, mtce.FailFIT))
		})
		if mtce.RCOf(err) != mtce.FailFIT {
			t.Fatalf("%v", err)
		}
	})
}

func TestRequestFailedResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, err, _ := run(t, func(c fakeClient) {
			req := c.recv()
			c.send(NewHostServicesAck(req, mtce.Pass))
			time.Sleep(40 * time.Second)
			c.send(NewHostServicesResult(Result{Kind: ResultFailed, Script: "/etc/services.d/worker/k8s", ExitCode: 9}))
		})
		if mtce.RCOf(err) != mtce.FailOperation || r.Script != "/etc/services.d/worker/k8s" || r.ExitCode != 9 {
			t.Fatalf("%+v %v", r, err)
		}
		var rcErr *mtce.RCError
		if !errors.As(err, &rcErr) || rcErr.Detail != r.Text {
			t.Errorf("error %v does not carry the text", err)
		}
	})
}

func TestRequestSkipsUnrelated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, err, took := run(t, func(c fakeClient) {
			req := c.recv()
			alive, _ := NewMtcAlive(Alive{Sequence: 1, Identity: testIdentity})
			c.send(alive, nil)
			// a stale result before the ACK is unsolicited, not ours
			c.send(NewHostServicesResult(Result{Kind: ResultFailed, Script: "stale", ExitCode: 1}))
			// an ACK to another command
			other, _ := NewReboot(target)
			c.send(NewAck(&other))
			time.Sleep(3 * time.Second)
			c.send(NewHostServicesAck(req, mtce.Pass))
			c.send(alive, nil)
			time.Sleep(7 * time.Second)
			c.send(NewHostServicesResult(Result{Kind: ResultTimeout, Script: "/etc/services.d/worker/slow"}))
		})
		if mtce.RCOf(err) != mtce.FailTimeout || r.Kind != ResultTimeout || r.Script != "/etc/services.d/worker/slow" || took != 10*time.Second {
			t.Fatalf("%+v %v after %v", r, err, took)
		}
		if errors.Is(err, ErrNoResult) {
			t.Error("a timeout result from the client is not the agent's own timeout")
		}
	})
}

func TestRequestContextAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		agent, cl := Pipe(1)
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			cl.Recv(context.Background())
			time.Sleep(4 * time.Second)
			cancel()
		}()
		req := stopWorker(t)
		start := time.Now()
		_, err := RequestHostServices(ctx, agent, &req, hsTimeout)
		if !errors.Is(err, context.Canceled) || time.Since(start) != 4*time.Second {
			t.Fatalf("%v after %v", err, time.Since(start))
		}

		go func() {
			cl.Recv(context.Background())
			cl.Close()
		}()
		_, err = RequestHostServices(t.Context(), agent, &req, hsTimeout)
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("after close: %v", err)
		}
		if err := agent.Send(t.Context(), &req); !errors.Is(err, ErrClosed) {
			t.Errorf("send after close: %v", err)
		}
	})
}

func TestRequestRefusesNonHostServices(t *testing.T) {
	agent, _ := Pipe(1)
	req, _ := NewReboot(target)
	if _, err := RequestHostServices(t.Context(), agent, &req, hsTimeout); !errors.Is(err, ErrWrongMessage) {
		t.Errorf("%v", err)
	}
}

func TestPipeBackpressureAndOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := Pipe(2)
		for i := range uint32(2) {
			m := Message{Signature: SigWorker, Command: CmdMtcAlive, Num: 4, Parm: [5]uint32{3: i}}
			if err := a.Send(t.Context(), &m); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		m := Message{Signature: SigWorker}
		if err := a.Send(ctx, &m); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("full pipe: %v", err)
		}
		for i := range uint32(2) {
			got, err := b.Recv(t.Context())
			if err != nil || got.Parm[3] != i {
				t.Fatalf("%d: %+v %v", i, got, err)
			}
		}
		bad := Message{Signature: SigWorker, Num: 9}
		if err := a.Send(t.Context(), &bad); err == nil {
			t.Error("invalid message sent")
		}
		// Queued messages survive Close.
		a.Send(t.Context(), &m)
		a.Close()
		if _, err := b.Recv(t.Context()); err != nil {
			t.Errorf("queued message lost: %v", err)
		}
		if _, err := b.Recv(t.Context()); !errors.Is(err, ErrClosed) {
			t.Errorf("%v", err)
		}
	})
}
