// Command mtcagent is the maintenance agent of a StarlingX controller, built
// on the metal-go SDK: a thin main around package mtce/agent. See doc.go.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"opendev.org/starlingx/metal-go/cmd/internal/cli"
	"opendev.org/starlingx/metal-go/cmd/internal/localhttp"
	"opendev.org/starlingx/metal-go/cmd/internal/metrics"
	"opendev.org/starlingx/metal-go/cmd/internal/run"
	"opendev.org/starlingx/metal-go/cmd/internal/sdnotify"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/agent"
	"opendev.org/starlingx/metal-go/mtce/config"
	"opendev.org/starlingx/metal-go/mtce/demo"
	"opendev.org/starlingx/metal-go/mtce/eventapi"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

const prog = "mtcagent"

func main() {
	os.Exit(realMain(context.Background(), os.Args[1:], os.Stdout, os.Stderr, nil))
}

// options are mtcagent's own flags.
type options struct {
	common   cli.Common
	root     string
	hostname string
	metrics  string
	admin    string
	drain    time.Duration
	sim      bool
	simOpts  simOptions

	eventAddr  string
	smURL      string
	udpMgmt    string
	udpCluster string
}

func (o *options) register(fs *flag.FlagSet) {
	o.common.Register(fs)
	fs.StringVar(&o.root, "root", "/", "prefix of every StarlingX path read (/etc/mtc.conf, /etc/mtc.ini,\n/etc/platform/platform.conf, the SysInv, Barbican and VIM configuration files)")
	fs.StringVar(&o.hostname, "hostname", "", "the controller this agent runs on (default: the machine's hostname)")
	fs.StringVar(&o.metrics, "metrics", "127.0.0.1:9102", "Prometheus metrics and /healthz: a loopback host:port or unix:/path; \"\" disables")
	fs.StringVar(&o.admin, "admin", "unix:/run/mtc/mtcagent.sock", "admin API (hosts, status, actions): unix:/path (mode 0600) or a loopback host:port; \"\" disables")
	fs.DurationVar(&o.drain, "drain", 30*time.Second, "bound on the graceful drain after SIGTERM")
	fs.StringVar(&o.eventAddr, "event-api", "", "event API address, loopback only (default 127.0.0.1:<inv_event_port> of mtc.conf)")
	fs.StringVar(&o.smURL, "sm-url", "", "SM's API base URL (default http://<hostname>:<ha_port> of mtc.conf, as StarlingX)")
	fs.StringVar(&o.udpMgmt, "udp-mgmt", "", "UDP address for hosts' messages on the management network\n(default 0.0.0.0:<mtc_agent_port>; StarlingX binds the floating controller address)")
	fs.StringVar(&o.udpCluster, "udp-cluster", "", "UDP address for hosts' messages on the cluster-host network (default: none)")
	fs.BoolVar(&o.sim, "sim", false, "run a whole simulated StarlingX system in this process over loopback (SysInv, SM, VIM,\nKeystone, Barbican, a real mtcClient and a Redfish BMC per host, the agent on the active\ncontroller); every other flag but -system, -workers, -tour, -log-level and -admin (when\ngiven: the demo's admin API) is ignored")
	fs.StringVar(&o.simOpts.system, "system", demo.SystemAIODuplex, "with -sim: the simulated system, aio-duplex or standard")
	fs.IntVar(&o.simOpts.workers, "workers", demo.DefaultWorkers, "with -sim -system standard: the number of worker hosts")
	fs.BoolVar(&o.simOpts.tour, "tour", false, "with -sim: run the scripted tour (lock, unlock, reboot with auto-start, swact with\na token corruption), print one line per event and step, exit 0 when every step\nreached its expected state in time, else 1 naming the step")
}

// realMain runs the daemon and returns its exit status. sigs replaces the
// process's signals when not nil (tests).
func realMain(ctx context.Context, args []string, stdout, stderr io.Writer, sigs <-chan os.Signal) int {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s [flags]\n\nThe StarlingX maintenance agent (metal-go reference daemon).\n\nFlags:\n", prog)
		fs.PrintDefaults()
	}
	var o options
	o.register(fs)
	if exit, status := o.common.Parse(fs, args, stdout); exit {
		return status
	}
	if o.sim {
		fs.Visit(func(f *flag.Flag) {
			o.simOpts.logLevel = o.simOpts.logLevel || f.Name == "log-level"
			o.simOpts.admin = o.simOpts.admin || f.Name == "admin"
		})
		return runSim(ctx, &o, stdout, stderr, sigs)
	}
	log := o.common.Logger(prog, stderr)

	cfg, err := agent.Load(agent.Paths{Root: o.root, Hostname: o.hostname}, log)
	if err != nil {
		fmt.Fprintln(stderr, cli.ConfigError(prog, err))
		return cli.ExitConfig
	}
	cfg.Logger = log
	if o.smURL != "" {
		cfg.SMURL = o.smURL
	}
	if o.udpMgmt != "" || o.udpCluster != "" {
		cfg.UDPEndpoints = nil
		port := cfg.Mtc.Agent.MtcAgentPort
		if o.udpMgmt == "" {
			o.udpMgmt = net.JoinHostPort("0.0.0.0", strconv.Itoa(port))
		}
		cfg.UDPEndpoints = append(cfg.UDPEndpoints, wire.Endpoint{Network: mtce.NetworkMgmt, Addr: o.udpMgmt})
		if o.udpCluster != "" {
			cfg.UDPEndpoints = append(cfg.UDPEndpoints, wire.Endpoint{Network: mtce.NetworkClusterHost, Addr: o.udpCluster})
		}
	}
	if o.eventAddr != "" {
		ln, err := eventapi.Listen(ctx, o.eventAddr)
		if err != nil {
			if errors.Is(err, eventapi.ErrNotLoopback) {
				fmt.Fprintln(stderr, cli.ConfigError(prog, &cli.ValueError{Key: "--event-api", Value: o.eventAddr, Reason: "must be a loopback host:port"}))
				return cli.ExitConfig
			}
			fmt.Fprintf(stderr, "%s: event API %s: %v\n", prog, o.eventAddr, err)
			return cli.ExitFailure
		}
		cfg.EventListener = ln
	}
	a, err := agent.New(cfg)
	if err != nil {
		if cfg.EventListener != nil {
			cfg.EventListener.Close()
		}
		fmt.Fprintln(stderr, cli.ConfigError(prog, err))
		return cli.ExitConfig
	}
	defer a.Close()

	notify := sdnotify.FromEnv(log)
	comps := []run.Component{{Name: "agent", Run: a.Run}}

	var adminLn net.Listener // closed here if run.Run never serves it
	served := false
	defer func() {
		if !served && adminLn != nil {
			adminLn.Close()
		}
	}()
	if o.admin != "" {
		if _, _, err := localhttp.ParseAddr(o.admin); err != nil {
			fmt.Fprintln(stderr, cli.ConfigError(prog, &cli.ValueError{Key: "--admin", Value: o.admin, Reason: "must be unix:/path or a loopback host:port"}))
			return cli.ExitConfig
		}
		if network, path, _ := localhttp.ParseAddr(o.admin); network == "unix" {
			// The socket's directory decides who may connect: root only
			// when mtcagent creates it (the unit file's RuntimeDirectory=
			// does the same).
			if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
				fmt.Fprintf(stderr, "%s: admin API %s: %v\n", prog, o.admin, err)
				return cli.ExitConfig
			}
		}
		ln, err := localhttp.Listen(o.admin, 0o600)
		if err != nil {
			fmt.Fprintf(stderr, "%s: admin API %s: %v\n", prog, o.admin, err)
			return cli.ExitConfig
		}
		adminLn = ln
		comps = append(comps, run.Component{Name: "admin", Run: serveAdmin(ln, a.AdminHandler(), log)})
		log.Info("admin API listening", "addr", ln.Addr().String())
	}
	var m *metrics.Server
	if o.metrics != "" {
		m, err = metrics.New(metrics.Config{Addr: o.metrics, Logger: log})
		if err != nil {
			fmt.Fprintln(stderr, cli.ConfigError(prog, &cli.ValueError{Key: "--metrics", Value: o.metrics, Reason: "must be a loopback host:port or unix:/path"}))
			return cli.ExitConfig
		}
		if err := m.Registry().Register(a.Collector()); err != nil {
			fmt.Fprintf(stderr, "%s: metrics: %v\n", prog, err)
			return cli.ExitFailure
		}
		if err := m.Listen(); err != nil {
			fmt.Fprintf(stderr, "%s: metrics: %v\n", prog, err)
			return cli.ExitFailure
		}
		comps = append(comps, run.Component{Name: "metrics", Run: m.Run})
		log.Info("metrics listening", "addr", m.Addr())
	}
	comps = append(comps,
		run.Component{Name: "ready", Run: func(ctx context.Context) error {
			select {
			case <-a.Ready():
			case <-ctx.Done():
				return nil
			}
			if m != nil {
				m.SetReady(true)
			}
			if err := notify.Ready(); err != nil {
				log.Warn("sd_notify READY failed", "err", err)
			}
			log.Info("agent ready", "event_api", addrString(a.EventAddr()))
			return nil
		}},
		run.Component{Name: "watchdog", Run: notify.Watchdog},
	)

	served = true
	err = run.Run(ctx, run.Config{
		Signals: sigs,
		Drain:   o.drain,
		Logger:  log,
		Stopping: func() {
			if m != nil {
				m.SetReady(false)
			}
			_ = notify.Stopping()
		},
		Reload: func(context.Context) error { return reload(&o, a, log, notify) },
	}, comps...)
	if cerr := a.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		log.Error("mtcagent stopped", "err", err)
		return cli.ExitFailure
	}
	log.Info("mtcagent stopped")
	return cli.ExitOK
}

// reload re-reads mtc.conf and mtc.ini and hands them to the agent, which
// applies what can change at run time (see agent.Agent.Reload). A file
// that no longer parses changes nothing.
func reload(o *options, a *agent.Agent, log *slog.Logger, notify *sdnotify.Notifier) error {
	_ = notify.Reloading()
	defer func() { _ = notify.Ready() }()
	m, err := config.LoadMtc(config.Config{Root: o.root, Role: config.RoleAgent, Logger: log})
	if err != nil {
		return fmt.Errorf("reload: %s", cli.ConfigError(prog, err))
	}
	if err := a.Reload(m); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	log.Info("configuration reloaded")
	return nil
}

// serveAdmin serves h on ln until ctx is done, then shuts down within 5 s.
func serveAdmin(ln net.Listener, h http.Handler, log *slog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		srv := &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      30 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		select {
		case err := <-errc:
			return fmt.Errorf("admin API: %w", err)
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		if err != nil {
			srv.Close()
		}
		if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
		return err
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
