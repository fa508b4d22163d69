package hostsvc

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Flag files read by AutoStart (section E.1, E.3), relative to
// SchedulerConfig.FlagRoot.
const (
	NodeLockedFile          = "/var/run/.node_locked"
	GoEnabledFile           = "/var/run/goenabled"
	GoEnabledSubfFile       = "/var/run/goenabled_subf"
	GoEnabledFailedFile     = "/var/run/goenabled_failed"
	GoEnabledSubfFailedFile = "/var/run/goenabled_subf_failed"
)

// AutoStartPlan returns what the start-up auto-start of node n waits for and
// then requests (section E.3):
//   - an AIO controller waits for the subfunction goenabled flag and starts
//     controller, then worker (the AIO fix of dab9c47: StarlingX used to
//     start only the controller);
//   - every other node (standard controller, worker or storage; the worker
//     and storage nodes of an AIO "plus" system) waits for the goenabled
//     flag and starts its one main function.
func AutoStartPlan(n Node) (gate string, cmds []Command) {
	if n.AIOController() {
		return GoEnabledSubfFile, []Command{StartCommand(Controller), StartCommand(Worker)}
	}
	if f := n.Functions.Primary(); f != 0 {
		return GoEnabledFile, []Command{StartCommand(f)}
	}
	return GoEnabledFile, nil
}

// AutoStart performs the start-up auto-start through the Scheduler, so it
// cannot interleave with the agent's requests. It returns ErrNodeLocked at
// once if the node-locked flag exists. Otherwise it polls every PollInterval
// until the gate flag of AutoStartPlan exists, then submits the plan's
// commands in order and returns their tickets (the caller may wait on them
// or rely on OnResult). While waiting it gives up with a
// *GoEnabledFailedError (matching ErrGoEnabledFailed) as soon as a
// goenabled-failed flag exists, with ErrNodeLocked if the node becomes
// locked, with ErrClosed when the Scheduler's Run returns, and with ctx's
// error when ctx ends. Each outcome is logged.
//
// StarlingX checks the lock flag only once, at process start; re-checking it
// while waiting keeps a node locked meanwhile from starting its services.
func (s *Scheduler) AutoStart(ctx context.Context) ([]*Ticket, error) {
	node := s.runner.Node()
	gate, cmds := AutoStartPlan(node)
	if err := s.autoStartGate(ctx, gate); err != nil {
		switch {
		case errors.Is(err, ErrNodeLocked):
			s.log.Info("host services auto-start skipped: node is locked", "flag", s.flag(NodeLockedFile))
		case errors.Is(err, ErrGoEnabledFailed):
			s.log.Error("host services auto-start rejected", "error", err)
		default:
			s.log.Info("host services auto-start abandoned", "error", err)
		}
		return nil, err
	}
	tickets := make([]*Ticket, 0, len(cmds))
	for _, c := range cmds {
		t, err := s.Submit(c)
		if err != nil {
			return tickets, err
		}
		s.log.Info("host services auto-start requested", "command", c.String())
		tickets = append(tickets, t)
	}
	return tickets, nil
}

func (s *Scheduler) flag(rel string) string {
	if s.cfg.FlagRoot == "" {
		return rel
	}
	return filepath.Join(s.cfg.FlagRoot, rel)
}

func (s *Scheduler) autoStartGate(ctx context.Context, gate string) error {
	select {
	case <-s.closed:
		return ErrClosed
	default:
	}
	if blocks(s.flag(NodeLockedFile)) {
		return ErrNodeLocked
	}
	var tick *time.Ticker
	for {
		for _, f := range []string{GoEnabledFailedFile, GoEnabledSubfFailedFile} {
			if p := s.flag(f); blocks(p) {
				return &GoEnabledFailedError{Flag: p, Reason: readReason(p)}
			}
		}
		if blocks(s.flag(NodeLockedFile)) {
			return ErrNodeLocked
		}
		if exists(s.flag(gate)) {
			return nil
		}
		if tick == nil {
			s.log.Info("host services auto-start waiting", "flag", s.flag(gate))
			tick = time.NewTicker(s.cfg.PollInterval)
			defer tick.Stop()
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-s.closed:
			return ErrClosed
		case <-tick.C:
		}
	}
}

// exists reports whether path exists; used for the gate flag, where only a
// file that is certainly there may start services.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// blocks reports whether a blocking flag (locked, goenabled failed) may
// exist: any answer but "does not exist" counts as present, so an unreadable
// flag never starts services.
func blocks(path string) bool {
	_, err := os.Lstat(path)
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}

// readReason returns the start of a failed flag's content: the goenabled
// tests write the failing test there.
func readReason(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 256))
	return strings.TrimSpace(strings.ToValidUTF8(string(b), "?"))
}
