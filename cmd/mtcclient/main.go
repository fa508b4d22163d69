package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"opendev.org/starlingx/metal-go/cmd/internal/cli"
	"opendev.org/starlingx/metal-go/cmd/internal/metrics"
	"opendev.org/starlingx/metal-go/cmd/internal/run"
	"opendev.org/starlingx/metal-go/cmd/internal/sdnotify"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/client"
	"opendev.org/starlingx/metal-go/mtce/config"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

const prog = "mtcclient"

func main() {
	os.Exit(mainWith(os.Args[1:], os.Stdout, os.Stderr))
}

// flags are the daemon's own flags (besides cli.Common's).
type flags struct {
	root                string
	hostname            string
	mgmtIP, mgmtMAC     string
	clusterIP           string
	pxebootIP           string
	controller          string
	controllerCluster   string
	listenMgmt          string
	listenCluster       string
	listenPxeboot       string
	metricsAddr         string
	actions             string
	systemctl, wipedisk string
	cryptsetup          string
	drain               time.Duration
	trustCurrentUser    bool
}

func mainWith(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common cli.Common
	common.Register(fs)
	var f flags
	fs.StringVar(&f.root, "root", "/", "prefix of every StarlingX path read or written (configuration, flag files, scripts)")
	fs.StringVar(&f.hostname, "hostname", "", "this host's name (default: the system host name)")
	fs.StringVar(&f.mgmtIP, "mgmt-ip", "", "management address (default: the first address of platform.conf management_interface)")
	fs.StringVar(&f.mgmtMAC, "mgmt-mac", "", "management MAC (default: that of management_interface)")
	fs.StringVar(&f.clusterIP, "cluster-host-ip", "", "cluster-host address (default: of cluster_host_interface; none: not provisioned)")
	fs.StringVar(&f.pxebootIP, "pxeboot-ip", "", "pxeboot address (default: none, not provisioned)")
	fs.StringVar(&f.controller, "controller", "controller", "the agent's floating management address or host name")
	fs.StringVar(&f.controllerCluster, "controller-cluster-host", "controller-0-cluster-host,controller-1-cluster-host",
		"comma-separated controller cluster-host addresses or names (controller-1 is skipped on AIO simplex)")
	fs.StringVar(&f.listenMgmt, "listen-mgmt", "", "management socket (default: mgmt-ip:[client] mtc_rx_mgmnt_port)")
	fs.StringVar(&f.listenCluster, "listen-cluster-host", "", "cluster-host socket (default: cluster-host-ip:mtc_rx_clstr_port)")
	fs.StringVar(&f.listenPxeboot, "listen-pxeboot", "", "pxeboot socket (default: pxeboot-ip:mtc_rx_pxeboot_port)")
	fs.StringVar(&f.metricsAddr, "metrics", "127.0.0.1:9102", `Prometheus metrics and /healthz on a loopback address or "unix:/path"; "" disables`)
	fs.StringVar(&f.actions, "actions", "refuse", `what reboot, reset and wipedisk do: "refuse" (log and count only) or "system" (systemctl reboot [--force], wipedisk --force)`)
	fs.StringVar(&f.systemctl, "systemctl", "systemctl", "systemctl program for -actions system")
	fs.StringVar(&f.wipedisk, "wipedisk", "/usr/local/bin/wipedisk", "wipedisk program for -actions system")
	fs.StringVar(&f.cryptsetup, "cryptsetup", "", `absolute path of cryptsetup: "status luks_encrypted_vault" then sets LUKS_VOL_FAILED in mtcAlive while it fails; "" does not check`)
	fs.DurationVar(&f.drain, "drain", client.DefaultDrain, "on SIGTERM, how long a running script set may finish before its process groups are killed")
	fs.BoolVar(&f.trustCurrentUser, "trust-current-user", false, "accept scripts owned by the running user besides root (simulators, tests)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s [flags]\n\nThe StarlingX maintenance client: mtcAlive, host services, goenabled tests and agent commands.\nReads /etc/mtc.conf, /etc/mtc.ini and /etc/platform/platform.conf under -root.\n\nFlags:\n", prog)
		fs.PrintDefaults()
	}
	if exit, status := common.Parse(fs, args, stdout); exit {
		return status
	}
	log := common.Logger(prog, stderr)

	ctx, stopSignals := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stopSignals()
	cfg, err := buildConfig(ctx, f, log)
	if err != nil {
		if ctx.Err() != nil {
			return cli.ExitOK // stopped while waiting for platform.conf
		}
		fmt.Fprintln(stderr, cli.ConfigError(prog, err))
		return cli.ExitConfig
	}
	stopSignals() // run.Run takes over the signals

	var srv *metrics.Server
	if f.metricsAddr != "" {
		srv, err = metrics.New(metrics.Config{Addr: f.metricsAddr, Logger: log.With("component", "metrics")})
		if err != nil {
			fmt.Fprintln(stderr, cli.ConfigError(prog, &cli.ValueError{Key: "--metrics", Value: f.metricsAddr, Reason: err.Error()}))
			return cli.ExitConfig
		}
		if err := srv.Listen(); err != nil {
			log.Error("metrics listen failed", "err", err)
			return cli.ExitFailure
		}
	}
	c, err := client.New(cfg)
	if err != nil {
		if errors.Is(err, client.ErrConfig) {
			fmt.Fprintln(stderr, cli.ConfigError(prog, err))
			return cli.ExitConfig
		}
		log.Error("cannot start", "err", err)
		return cli.ExitFailure
	}
	defer c.Close()

	notifier := sdnotify.FromEnv(log)
	comps := []run.Component{
		{Name: "client", Run: c.Run},
		{Name: "ready", Run: func(ctx context.Context) error {
			select {
			case <-c.Ready():
			case <-ctx.Done():
				return nil
			}
			if srv != nil {
				srv.SetReady(true)
			}
			if err := notifier.Ready(); err != nil {
				log.Warn("sd_notify READY failed", "err", err)
			}
			log.Info("ready", "metrics", metricsAddr(srv))
			return nil
		}},
	}
	if notifier.WatchdogInterval() > 0 {
		comps = append(comps, run.Component{Name: "watchdog", Run: notifier.Watchdog})
	}
	if srv != nil {
		srv.Registry().MustRegister(c.Collector())
		comps = append(comps, run.Component{Name: "metrics", Run: srv.Run})
	}
	err = run.Run(context.Background(), run.Config{
		Drain: f.drain + 10*time.Second,
		Stopping: func() {
			if srv != nil {
				srv.SetReady(false)
			}
			_ = notifier.Stopping()
		},
		Logger: log,
	}, comps...)
	if err != nil {
		log.Error("stopped with error", "err", err)
		return cli.ExitFailure
	}
	log.Info("exiting")
	return cli.ExitOK
}

func metricsAddr(s *metrics.Server) string {
	if s == nil {
		return "off"
	}
	return s.Addr()
}

// buildConfig loads the files under -root, waits for platform.conf to be
// complete (as mtcClient does, every 5 s), and fills in the identity from
// the interfaces platform.conf names, flags overriding.
func buildConfig(ctx context.Context, f flags, log *slog.Logger) (client.Config, error) {
	cfg := client.DefaultConfig()
	cc := config.Config{Root: f.root, Role: config.RoleClient, Logger: log}
	if err := cc.Validate(); err != nil {
		return cfg, &cli.ValueError{Key: "--root", Value: f.root, Reason: err.Error()}
	}
	mtc, err := config.LoadMtc(cc)
	if err != nil {
		return cfg, err
	}
	var plat *config.Platform
	for {
		if plat, err = config.LoadPlatform(cc); err != nil {
			return cfg, err
		}
		if err = plat.Ready(); err == nil {
			break
		}
		log.Warn("waiting for platform.conf", "err", err)
		t := time.NewTimer(5 * time.Second)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return cfg, ctx.Err()
		}
	}
	cfg.Root, cfg.Mtc, cfg.Platform, cfg.Logger = f.root, mtc, plat, log
	cfg.Drain, cfg.TrustCurrentUser = f.drain, f.trustCurrentUser

	cfg.Hostname = f.hostname
	if cfg.Hostname == "" {
		if cfg.Hostname, err = os.Hostname(); err != nil {
			return cfg, &cli.ValueError{Key: "--hostname", Reason: "not given and " + err.Error()}
		}
	}
	// Management identity: the interface's, flags override.
	ifIP, ifMAC, ifErr := ifaceIdentity(plat.ManagementInterface)
	if cfg.MgmtIP, err = addrFlag("--mgmt-ip", f.mgmtIP, ifIP); err != nil {
		return cfg, err
	}
	if !cfg.MgmtIP.IsValid() {
		return cfg, &cli.ValueError{File: config.PlatformConfPath, Key: "management_interface", Value: plat.ManagementInterface,
			Reason: fmt.Sprintf("has no usable address (%v); give --mgmt-ip", ifErr)}
	}
	cfg.MgmtMAC = f.mgmtMAC
	if cfg.MgmtMAC == "" {
		cfg.MgmtMAC = ifMAC
	}
	if cfg.MgmtMAC == "" {
		return cfg, &cli.ValueError{File: config.PlatformConfPath, Key: "management_interface", Value: plat.ManagementInterface,
			Reason: "has no MAC; give --mgmt-mac"}
	}
	if _, err := net.ParseMAC(cfg.MgmtMAC); err != nil {
		return cfg, &cli.ValueError{Key: "--mgmt-mac", Value: cfg.MgmtMAC, Reason: "is not a MAC"}
	}
	var clusterIf netip.Addr
	if plat.ClusterHostInterface != "" && f.clusterIP == "" {
		clusterIf, _, _ = ifaceIdentity(plat.ClusterHostInterface)
	}
	if cfg.ClusterHostIP, err = addrFlag("--cluster-host-ip", f.clusterIP, clusterIf); err != nil {
		return cfg, err
	}
	if cfg.PxebootIP, err = addrFlag("--pxeboot-ip", f.pxebootIP, netip.Addr{}); err != nil {
		return cfg, err
	}

	// The agent's addresses.
	if cfg.Controller, err = resolve(ctx, f.controller); err != nil {
		return cfg, &cli.ValueError{Key: "--controller", Value: f.controller, Reason: err.Error()}
	}
	if cfg.ClusterHostIP.IsValid() {
		for i, name := range strings.Split(f.controllerCluster, ",") {
			name = strings.TrimSpace(name)
			if name == "" || (i > 0 && plat.SystemType == mtce.SystemAIOSimplex) {
				continue
			}
			a, err := resolve(ctx, name)
			if err != nil {
				log.Warn("cluster-host controller address unknown; skipped", "name", name, "err", err)
				continue
			}
			cfg.ControllerClusterHost = append(cfg.ControllerClusterHost, a)
		}
	}

	// Sockets.
	if f.listenMgmt != "" || f.listenCluster != "" || f.listenPxeboot != "" {
		def := func(a netip.Addr, port int) string {
			if !a.IsValid() {
				return ""
			}
			return netip.AddrPortFrom(a, uint16(port)).String()
		}
		for _, ep := range []struct {
			n    mtce.Network
			flag string
			def  string
		}{
			{mtce.NetworkMgmt, f.listenMgmt, def(cfg.MgmtIP, mtc.Client.MtcRxMgmtPort)},
			{mtce.NetworkClusterHost, f.listenCluster, def(cfg.ClusterHostIP, mtc.Client.MtcRxClstrPort)},
			{mtce.NetworkPxeboot, f.listenPxeboot, def(cfg.PxebootIP, mtc.Client.MtcRxPxebootPort)},
		} {
			addr := ep.flag
			if addr == "" {
				addr = ep.def
			}
			if addr != "" {
				cfg.Endpoints = append(cfg.Endpoints, wire.Endpoint{Network: ep.n, Addr: addr})
			}
		}
	}

	cfg.Cryptsetup = f.cryptsetup

	switch f.actions {
	case "refuse":
		log.Info("reboot, reset and wipedisk will be refused (-actions refuse)")
	case "system":
		cfg.Actions = client.SystemActions(client.SystemCommands{Systemctl: f.systemctl, Wipedisk: f.wipedisk})
		log.Warn("reboot, reset and wipedisk will act on this machine (-actions system)")
	default:
		return cfg, &cli.ValueError{Key: "--actions", Value: f.actions, Reason: `must be "refuse" or "system"`}
	}
	return cfg, cfg.Validate()
}

// addrFlag parses an address flag, or returns def when it is empty.
func addrFlag(name, s string, def netip.Addr) (netip.Addr, error) {
	if s == "" {
		return def, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return a, &cli.ValueError{Key: name, Value: s, Reason: "is not an IP address"}
	}
	return a, nil
}

// resolve parses s as an address, or looks it up (/etc/hosts names the
// controllers on StarlingX).
func resolve(ctx context.Context, s string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", s)
	if err != nil {
		return netip.Addr{}, err
	}
	for _, a := range addrs {
		if a.Is4() || a.Is4In6() {
			return a.Unmap(), nil
		}
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("no address for %q", s)
	}
	return addrs[0], nil
}

// ifaceIdentity returns the first IPv4 (else IPv6) address and the MAC of
// the named interface.
func ifaceIdentity(name string) (netip.Addr, string, error) {
	if name == "" {
		return netip.Addr{}, "", errors.New("no interface named")
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return netip.Addr{}, "", err
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, "", err
	}
	var v6 netip.Addr
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		if p.Addr().Is4() {
			return p.Addr(), ifi.HardwareAddr.String(), nil
		}
		if !v6.IsValid() && !p.Addr().IsLinkLocalUnicast() {
			v6 = p.Addr()
		}
	}
	if !v6.IsValid() {
		return v6, ifi.HardwareAddr.String(), fmt.Errorf("interface %s has no address", name)
	}
	return v6, ifi.HardwareAddr.String(), nil
}
