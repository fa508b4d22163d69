package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"opendev.org/starlingx/metal-go/cmd/internal/cli"
	"opendev.org/starlingx/metal-go/cmd/internal/localhttp"
	"opendev.org/starlingx/metal-go/mtce/demo"
)

// simOptions are the flags of -sim.
type simOptions struct {
	system   string
	workers  int
	tour     bool
	logLevel bool // --log-level was given: the components' logs go to stderr
	admin    bool // --admin was given: the demo's admin API is served there
}

const simHelp = `commands:
  swact                 swact the active controller (as "system host-swact")
  lock HOST             lock a host            unlock HOST    unlock it (the agent reboots it)
  reboot HOST           reboot a locked host   reset HOST     reset a locked host
  power-off HOST        power-on HOST          force-lock HOST
  corrupt-token         corrupt the agent's Keystone token (FIT corrupt_token)
  fail-scripts HOST     make HOST's start scripts fail (fail-scripts HOST off: pass again)
  status                print the status table
  help                  this text
  quit                  stop everything and exit (Ctrl-C does the same)`

// runSim runs the embedded demo: a whole simulated StarlingX system in
// this process (package mtce/demo). It returns the exit status.
func runSim(ctx context.Context, o *options, stdout, stderr io.Writer, sigs <-chan os.Signal) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if sigs == nil {
		ch := make(chan os.Signal, 2)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(ch)
		sigs = ch
	}
	stopSig := make(chan struct{})
	defer close(stopSig)
	go func() {
		select {
		case s := <-sigs:
			if s != nil {
				cancel()
			}
		case <-stopSig:
		}
	}()

	table := isTerminal(stdout) && !o.simOpts.tour
	interactive := isTerminal(os.Stdin) && !o.simOpts.tour
	out := newSimOutput(stdout, table, interactive)
	var log *slog.Logger
	if o.simOpts.logLevel && !table {
		log = o.common.Logger(prog, stderr)
	}
	cfg := demo.DefaultConfig()
	cfg.System, cfg.Workers = o.simOpts.system, o.simOpts.workers
	if o.simOpts.system == demo.SystemStandard && o.simOpts.workers == 0 {
		cfg.Workers = -1 // -workers 0: no workers
	}
	cfg.OnEvent = out.event
	cfg.Logger = log
	d, err := demo.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%s: -sim: %v\n", prog, err)
		if errors.Is(err, demo.ErrConfig) {
			return cli.ExitUsage
		}
		return cli.ExitFailure
	}
	defer d.Close()
	begin := time.Now()
	if err := d.Start(ctx); err != nil {
		d.Close()
		out.stop()
		if ctx.Err() != nil {
			fmt.Fprintf(stderr, "%s: -sim: stopped during start-up\n", prog)
			return cli.ExitOK
		}
		fmt.Fprintf(stderr, "%s: -sim: %v\n", prog, err)
		return cli.ExitFailure
	}
	out.line(fmt.Sprintf("system up: agent ready on %s %v after start; hosts booting (type help for commands)", d.ActiveController(), time.Since(begin).Round(time.Millisecond)))

	if o.simOpts.tour {
		steps, err := d.Tour(ctx, out.line)
		var total time.Duration
		for _, s := range steps {
			total += s.Took
		}
		cerr := d.Close()
		out.stop()
		if err != nil {
			fmt.Fprintf(stderr, "%s: -tour failed: %v\n", prog, err)
			return cli.ExitFailure
		}
		if cerr != nil {
			fmt.Fprintf(stderr, "%s: -tour: close: %v\n", prog, cerr)
			return cli.ExitFailure
		}
		fmt.Fprintf(stdout, "tour: all %d steps reached their expected state (%v)\n", len(steps), total.Round(time.Millisecond))
		return cli.ExitOK
	}

	if o.simOpts.admin && o.admin != "" {
		ln, err := localhttp.Listen(o.admin, 0o600)
		if err != nil {
			fmt.Fprintf(stderr, "%s: -sim: admin API %s: %v\n", prog, o.admin, err)
			return cli.ExitConfig
		}
		alog := log
		if alog == nil {
			alog = slog.New(slog.DiscardHandler)
		}
		serve := serveAdmin(ln, d.AdminHandler(), alog)
		adminDone := make(chan error, 1)
		actx, acancel := context.WithCancel(context.WithoutCancel(ctx))
		go func() { adminDone <- serve(actx) }()
		defer func() { acancel(); <-adminDone }()
		out.line("admin API listening on " + ln.Addr().String() + " (GET /v1/hosts, /v1/status, /v1/demo; POST /v1/hosts/HOST/ACTION)")
	}
	if table {
		out.run(d)
	}
	var lines <-chan string
	if interactive {
		lines = readLines(os.Stdin)
	}
	var actions sync.WaitGroup
	defer actions.Wait()
	defer cancel()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case l, ok := <-lines:
			if !ok {
				lines = nil
				continue
			}
			if !command(ctx, d, out, &actions, l) {
				break loop
			}
			out.prompt()
		}
	}
	cancel()
	actions.Wait()
	out.stop() // the last table is the running system's, not the stopped one
	err = d.Close()
	if err != nil {
		fmt.Fprintf(stderr, "%s: -sim: %v\n", prog, err)
		return cli.ExitFailure
	}
	fmt.Fprintln(stdout, "stopped: every process ended, temporary directory removed")
	return cli.ExitOK
}

// readLines reads stdin lines on a goroutine that lives until stdin ends
// (the process exits with it).
func readLines(r io.Reader) <-chan string {
	ch := make(chan string)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}

// command runs one prompt command; it reports false for quit.
func command(ctx context.Context, d *demo.Demo, out *simOutput, wg *sync.WaitGroup, line string) bool {
	f := strings.Fields(line)
	if len(f) == 0 {
		return true
	}
	needHost := func() (string, bool) {
		if len(f) < 2 {
			out.line("usage: " + f[0] + " HOST (hosts: " + strings.Join(d.HostNames(), ", ") + ")")
			return "", false
		}
		return f[1], true
	}
	act := func(host, action string) {
		wg.Go(func() {
			actx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			_ = d.Action(actx, host, action) // the outcome is an event
		})
	}
	switch f[0] {
	case "quit", "exit", "q":
		return false
	case "help", "?":
		for _, l := range strings.Split(simHelp, "\n") {
			out.line(l)
		}
	case "status":
		for _, l := range d.Snapshot().Lines() {
			out.line(l)
		}
	case "swact":
		act(d.ActiveController(), "swact")
	case "lock", "unlock", "reboot", "reset", "power-off", "power-on", "force-lock":
		if h, ok := needHost(); ok {
			act(h, f[0])
		}
	case "corrupt-token":
		if !d.CorruptToken() {
			out.line("no token to corrupt yet")
		}
	case "fail-scripts":
		if h, ok := needHost(); ok {
			on := len(f) < 3 || f[2] != "off"
			if err := d.FailScripts(h, on); err != nil {
				out.line(err.Error())
			}
		}
	default:
		out.line(fmt.Sprintf("unknown command %q; type help", f[0]))
	}
	return true
}

// simOutput shows the demo: plain lines, or a table redrawn in place
// with the last events under it and the prompt below.
type simOutput struct {
	w           io.Writer
	table       bool
	interactive bool

	mu      sync.Mutex
	log     []string
	rows    int // rows drawn above the prompt
	d       *demo.Demo
	wake    chan struct{}
	done    chan struct{}
	quit    chan struct{}
	once    sync.Once
	running bool
}

const logRows = 10

func newSimOutput(w io.Writer, table, interactive bool) *simOutput {
	return &simOutput{w: w, table: table, interactive: interactive, wake: make(chan struct{}, 1),
		done: make(chan struct{}), quit: make(chan struct{})}
}

func (o *simOutput) event(e demo.Event) { o.line(e.String()) }

// line shows one line: printed at once in plain mode, added to the event
// log under the table otherwise.
func (o *simOutput) line(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.table {
		fmt.Fprintln(o.w, s)
		return
	}
	o.log = append(o.log, s)
	if len(o.log) > logRows {
		o.log = o.log[len(o.log)-logRows:]
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// run starts redrawing the table: at every event and twice a second.
func (o *simOutput) run(d *demo.Demo) {
	o.mu.Lock()
	o.d, o.running = d, true
	fmt.Fprint(o.w, "\x1b[2J\x1b[H\x1b[?25l")
	o.mu.Unlock()
	go func() {
		defer close(o.done)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		o.draw(true)
		for {
			select {
			case <-o.quit:
				return
			case <-t.C:
			case <-o.wake:
			}
			o.draw(false)
		}
	}()
}

// draw redraws everything above the prompt, keeping the cursor (and what
// the user is typing) where it is.
func (o *simOutput) draw(first bool) {
	v := o.d.Snapshot()
	cols, _ := termSize(o.w)
	o.mu.Lock()
	defer o.mu.Unlock()
	var b strings.Builder
	if !first {
		b.WriteString("\x1b7") // save the cursor
	}
	b.WriteString("\x1b[H")
	lines := append([]string{fmt.Sprintf("metal-go mtcagent -sim   %s   (Ctrl-C or quit to stop; help for commands)", v.Time.Format("15:04:05"))}, v.Lines()...)
	lines = append(lines, "", "events:")
	for i := range logRows {
		if i < len(o.log) {
			lines = append(lines, "  "+o.log[i])
		} else {
			lines = append(lines, "")
		}
	}
	lines = append(lines, "")
	for _, l := range lines {
		b.WriteString(clip(l, cols))
		b.WriteString("\x1b[K\r\n")
	}
	o.rows = len(lines)
	if first {
		if o.interactive {
			b.WriteString("> \x1b[?25h")
		}
	} else {
		b.WriteString("\x1b8") // restore the cursor
	}
	fmt.Fprint(o.w, b.String())
}

// prompt puts a fresh prompt under the table after a command.
func (o *simOutput) prompt() {
	if !o.table || !o.interactive {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.w, "\x1b[%d;1H\x1b[J> ", o.rows+1)
}

// stop ends the redraw and leaves the cursor under the table.
func (o *simOutput) stop() {
	o.once.Do(func() {
		close(o.quit)
		o.mu.Lock()
		running := o.running
		o.mu.Unlock()
		if !running {
			return
		}
		<-o.done
		o.draw(false)
		o.mu.Lock()
		fmt.Fprintf(o.w, "\x1b[%d;1H\x1b[J\x1b[?25h", o.rows+1)
		o.mu.Unlock()
	})
}

// clip cuts s to n columns (n ≤ 0: no limit).
func clip(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) < n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1])
}
