package config

import (
	"net"
	"strconv"
	"strings"
)

// Endpoint is a service's host and port as read from its configuration
// file. Host is "none" when the file does not name one (mtce's default),
// Port 0 when it gives none.
type Endpoint struct {
	Host string
	Port int
}

// Valid reports whether e names a host ("none" and "" do not) and a port
// in 1..65535.
func (e Endpoint) Valid() bool {
	return e.Host != "" && e.Host != "none" && e.Port > 0 && e.Port <= 65535
}

// HostPort returns "host:port", bracketing an IPv6 host.
func (e Endpoint) HostPort() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

// LoadSysinv reads SysInv's API address from /etc/sysinv/sysinv.conf
// [DEFAULT] sysinv_api_bind_ip and sysinv_api_port (spec K.7). mtce adds
// the paths /v1/ihosts/ and /v1/iuser/ itself; the file's MTC_INV_LABEL is
// unused.
func LoadSysinv(cfg Config) (Endpoint, error) {
	f, err := loadINI(cfg, SysinvConfPath)
	if err != nil {
		return Endpoint{}, err
	}
	e := Endpoint{Host: "none"}
	if v, ok := f.get("DEFAULT", "sysinv_api_bind_ip"); ok {
		e.Host = v
	}
	if v, ok := f.get("DEFAULT", "sysinv_api_port"); ok {
		e.Port, _ = atoi(v)
	}
	return e, nil
}

// LoadBarbican reads Barbican's API address from
// /etc/barbican/barbican.conf [DEFAULT] bind_host and bind_port (spec
// K.7); brackets around an IPv6 bind_host are removed.
func LoadBarbican(cfg Config) (Endpoint, error) {
	f, err := loadINI(cfg, BarbicanConfPath)
	if err != nil {
		return Endpoint{}, err
	}
	e := Endpoint{Host: "none"}
	if v, ok := f.get("DEFAULT", "bind_host"); ok {
		e.Host = strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")
	}
	if v, ok := f.get("DEFAULT", "bind_port"); ok {
		e.Port, _ = atoi(v)
	}
	return e, nil
}

// LoadVIM reads the VIM's port from the NFV plugin's config.ini
// [infrastructure-rest-api] port (0 if absent); mtce always reaches the VIM
// on localhost, without a token (spec K.7).
func LoadVIM(cfg Config) (Endpoint, error) {
	f, err := loadINI(cfg, NFVPluginConfPath)
	if err != nil {
		return Endpoint{}, err
	}
	e := Endpoint{Host: "localhost"}
	if v, ok := f.get("infrastructure-rest-api", "port"); ok {
		e.Port, _ = atoi(v)
	}
	return e, nil
}

func loadINI(cfg Config, path string) (*iniFile, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return readINI(cfg.Path(path))
}
