package wire

import (
	"context"
	"sync"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
)

// Timers mtcAgent uses around host-services commands (spec E.2).
const (
	// AckTimeout is how long mtcAgent waits for a command's ACK
	// (MTC_CMD_RSP_TIMEOUT).
	AckTimeout = 10 * time.Second
	// ResultTimeoutExtension is added to host_services_timeout for the
	// agent's umbrella timer (MTC_AGENT_TIMEOUT_EXTENSION).
	ResultTimeoutExtension = 5 * time.Second
)

// Link carries messages to and from one peer. [Pipe] gives an in-memory
// pair; [Transport.Peer] gives one over UDP. Implementations must be safe
// for one sender and one receiver at a time, and Recv must return
// ctx.Err() when ctx ends.
type Link interface {
	Send(ctx context.Context, m *Message) error
	Recv(ctx context.Context) (*Message, error)
}

// RequestHostServices sends a host-services command over l and waits as
// mtcAgent does (spec E.2, K.4):
//
//  1. up to [AckTimeout] for the ACK, a "cgts mtc cmd rsp:" message with
//     the request's command; none gives [ErrNoAck] (FAIL_NO_CMD_ACK).
//     An enhanced ACK whose parm[0] is not PASS ends the request with an
//     *mtce.RCError carrying that code.
//  2. An ACK without the EnhancedHostServices magic comes from a legacy
//     client and is itself the completion: the Result is a PASS with
//     Legacy set. (mtcAgent then waits 90 s more for a storage host's
//     ceph; that delay is the caller's.)
//  3. Otherwise it waits for the result (cmd 21) until hostServicesTimeout
//     + [ResultTimeoutExtension] after the request was sent (the agent's
//     umbrella timer runs from launch); none gives [ErrNoResult]
//     (FAIL_TIMEOUT). A received result is returned with [Result.Err] as
//     the error.
//
// Messages that match neither step (other ACKs, results before the ACK,
// mtcAlive, ...) are skipped. A stock client whose script directory is
// empty ACKs and never sends a result, so this waits the full timeout, as
// mtcAgent does. The error is ctx.Err() if ctx ends first, or the Link's
// error. mtce.RCOf maps every outcome to mtcAgent's return code.
func RequestHostServices(ctx context.Context, l Link, req *Message, hostServicesTimeout time.Duration) (Result, error) {
	if _, _, ok := req.Command.HostServices(); !ok || req.Signature != SigRequest {
		return Result{}, wrongMessage(req, "host-services request")
	}
	start := time.Now()
	if err := l.Send(ctx, req); err != nil {
		return Result{}, err
	}

	ackCtx, cancelAck := context.WithTimeoutCause(ctx, AckTimeout, ErrNoAck)
	defer cancelAck()
	var ack Ack
	for {
		m, err := l.Recv(ackCtx)
		if err != nil {
			return Result{}, cause(ackCtx, err)
		}
		if a, err := m.Ack(); err == nil && a.Command == req.Command {
			ack = a
			break
		}
	}
	if !ack.Enhanced {
		return Result{Kind: ResultPass, Command: req.Command, Status: mtce.Pass, ExitCode: 0, Legacy: true}, nil
	}
	if ack.RC != mtce.Pass {
		return Result{}, &mtce.RCError{RC: ack.RC, Detail: "host-services command not accepted: " + req.Command.String()}
	}

	resCtx, cancelRes := context.WithDeadlineCause(ctx, start.Add(hostServicesTimeout+ResultTimeoutExtension), ErrNoResult)
	defer cancelRes()
	for {
		m, err := l.Recv(resCtx)
		if err != nil {
			return Result{}, cause(resCtx, err)
		}
		if r, err := m.HostServicesResult(); err == nil {
			return r, r.Err()
		}
	}
}

// cause returns the context's cause when err is the context ending (our
// timeout sentinels, or the parent's error), and err otherwise.
func cause(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

// Pipe returns the two ends of an in-memory Link, each end able to hold
// buffer messages sent to it and not yet received. A message sent on one
// end is encoded and decoded on its way, so the receiver sees exactly what
// a UDP peer would. Send blocks while the other end's buffer is full.
// Closing either end makes both ends' Send and Recv return ErrClosed.
// Pipes start no goroutine, so they work inside testing/synctest bubbles.
func Pipe(buffer int) (*PipeEnd, *PipeEnd) {
	p := &pipe{closed: make(chan struct{})}
	a := &PipeEnd{p: p, in: make(chan *Message, buffer)}
	b := &PipeEnd{p: p, in: make(chan *Message, buffer)}
	a.peer, b.peer = b, a
	return a, b
}

type pipe struct {
	once   sync.Once
	closed chan struct{}
}

// PipeEnd is one end of a [Pipe].
type PipeEnd struct {
	p    *pipe
	in   chan *Message
	peer *PipeEnd
}

// Send encodes m, decodes the bytes into a copy and queues it at the
// other end.
func (e *PipeEnd) Send(ctx context.Context, m *Message) error {
	b, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	d, err := Decode(b)
	if err != nil {
		return err
	}
	select {
	case <-e.p.closed:
		return ErrClosed
	default:
	}
	select {
	case e.peer.in <- &d.Message:
		return nil
	case <-e.p.closed:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Recv returns the next message sent by the other end. Messages queued
// before Close are still delivered.
func (e *PipeEnd) Recv(ctx context.Context) (*Message, error) {
	select {
	case m := <-e.in:
		return m, nil
	default:
	}
	select {
	case m := <-e.in:
		return m, nil
	case <-e.p.closed:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close closes the pipe; it is idempotent and never blocks.
func (e *PipeEnd) Close() error {
	e.p.once.Do(func() { close(e.p.closed) })
	return nil
}
