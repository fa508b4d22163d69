package keystone

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// MaxRefreshPeriod caps Config.RefreshPeriod, as StarlingX caps
// token_refresh_rate at 28800 s (MTC_HRS_8).
const MaxRefreshPeriod = 8 * time.Hour

// Config configures a [Manager]. Start from [DefaultConfig] and fill in the
// endpoint and the credentials. The comments give the StarlingX key each
// field comes from (/etc/mtc.ini [agent] unless noted).
//
// Exactly one authentication method must be configured: the password method
// (Username, Password and a project scope) or an application credential
// (ApplicationCredentialID, or ApplicationCredentialName with Username and
// a user domain; plus ApplicationCredentialSecret).
type Config struct {
	// AuthURL is Keystone's identity endpoint, e.g.
	// "http://192.168.204.2:5000/v3" (keystone_auth_uri, or
	// keystone_auth_host + mtc.conf keystone_port). A URL ending in /v3 is
	// used as is; a versionless one costs one discovery GET per token.
	AuthURL string

	// Username and UserID identify the user (keystone_auth_username).
	Username string
	UserID   string
	// UserDomainName / UserDomainID: the user's domain
	// (keystone_user_domain). Required with Username.
	UserDomainName string
	UserDomainID   string
	// Password for the password method (keystone_auth_pw).
	Password Secret

	// ProjectName / ProjectID: the project scope (keystone_auth_project).
	ProjectName string
	ProjectID   string
	// ProjectDomainName / ProjectDomainID: the project's domain
	// (keystone_project_domain). Required with ProjectName.
	ProjectDomainName string
	ProjectDomainID   string

	// Application credentials (an alternative to the password method; the
	// scope is implied by the credential).
	ApplicationCredentialID     string
	ApplicationCredentialName   string
	ApplicationCredentialSecret Secret

	// Region is used for the catalog check below (keystone_region_name);
	// empty matches any region.
	Region string
	// RequiredService, when not empty, is a service type that every token's
	// catalog must list with an endpoint of RequiredInterface in Region,
	// else the token is refused with ErrNoEndpoint. StarlingX requires the
	// "platform" admin endpoint (FAIL_TOKEN_URL) although it routes SysInv
	// from sysinv.conf. Default "platform".
	RequiredService string
	// RequiredInterface defaults to InterfaceAdmin.
	RequiredInterface Interface

	// CAFile is a PEM bundle of the CAs that may sign Keystone's certificate;
	// it replaces the system roots. Empty = system roots. TLS verification
	// is always on unless InsecureSkipVerify is set.
	CAFile string
	// InsecureSkipVerify disables TLS certificate verification. Never in
	// production; the Manager logs a warning at start when it is set.
	InsecureSkipVerify bool
	// Transport carries the token requests. Nil = a clone of
	// http.DefaultTransport with the TLS settings above. When set, CAFile and
	// InsecureSkipVerify must be empty (configure TLS in the Transport).
	// Tests inject an in-memory RoundTripper here.
	Transport http.RoundTripper

	// RenewTimeout bounds every token request (StarlingX HTTP_TOKEN_TIMEOUT,
	// 30 s). The request runs on the Manager's own context, never on a
	// caller's.
	RenewTimeout time.Duration
	// StuckAfter is the watchdog: a token request still running after this
	// long (something ignored its context) is abandoned and a fresh request
	// starts (at once if the token is bad or missing, else at the next 401
	// or refresh). Must exceed RenewTimeout. Default 31 s
	// (HTTP_TOKEN_TIMEOUT+1, as StarlingX's stuck monitor).
	StuckAfter time.Duration
	// CloseTimeout bounds how long Close waits for token requests to
	// return after it has cancelled them. A request stuck in a transport
	// that ignores cancellation is left behind after it (it ends whenever
	// its call returns, and its result is discarded) and Close reports it
	// with an error wrapping ErrStuck. Default 5 s.
	CloseTimeout time.Duration
	// RefreshFraction: a proactive refresh starts after this fraction of the
	// token's lifetime, minus up to Jitter of it (vault's LifetimeWatcher
	// uses about 2/3). In (0, 1). Default 2/3.
	RefreshFraction float64
	// RefreshPeriod: optional periodic refresh counted from each new token
	// (mtc.conf token_refresh_rate; StarlingX ships 1200 s). 0 = off.
	// Values above MaxRefreshPeriod are capped to it (as StarlingX does).
	RefreshPeriod time.Duration
	// RetryMin and RetryMax bound the spacing between token requests after
	// a failure: RetryMin after the first failure, doubling, capped at
	// RetryMax. Defaults 1 s and 30 s. Failures that mean Keystone is down
	// are spaced more tightly while callers wait: see OutageRetryMax.
	RetryMin time.Duration
	RetryMax time.Duration
	// OutageRetryMax caps the spacing after a failure that means Keystone
	// could not be reached or did not answer in time (ErrUnavailable,
	// ErrTimeout) while the Manager has no token it may hand out (before
	// the first one, after a 401 on the current one, after its expiry):
	// work is blocked then, so Keystone is asked again every
	// OutageRetryMax (lengthened by up to Jitter, never shortened) and a
	// Keystone that comes back is found within about that long, while a
	// Keystone that stays down gets one token request per OutageRetryMax
	// from this Manager however many callers wait. Rejected credentials
	// and invalid replies keep the RetryMin..RetryMax doubling (asking
	// every second with a wrong password would only lock the account),
	// and so does a failed refresh while the current token is still valid
	// (nothing waits on it). Default 1 s (it was RetryMax, 30 s, before:
	// up to ~33 s of failures after Keystone was back). Set it to RetryMax
	// for the plain doubling.
	OutageRetryMax time.Duration
	// Jitter in [0, 0.5]: retry intervals are lengthened by up to this
	// fraction and proactive refreshes brought forward by up to this
	// fraction, so a fleet does not ask Keystone in lock-step. Default 0.1.
	Jitter float64

	// Logger receives the Manager's logs; nil = silent. Tokens and secrets
	// are never logged.
	Logger *slog.Logger
}

// DefaultConfig returns a Config with every tunable at its default and no
// endpoint or credentials.
func DefaultConfig() Config {
	return Config{
		RequiredService:   "platform",
		RequiredInterface: InterfaceAdmin,
		RenewTimeout:      30 * time.Second,
		StuckAfter:        31 * time.Second,
		CloseTimeout:      5 * time.Second,
		RefreshFraction:   2.0 / 3.0,
		RetryMin:          time.Second,
		RetryMax:          30 * time.Second,
		OutageRetryMax:    time.Second,
		Jitter:            0.1,
	}
}

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
}

// Validate reports the first problem found, as an error wrapping
// ErrInvalidConfig that names the field. It never prints a secret.
func (c *Config) Validate() error {
	if c.AuthURL == "" {
		return invalid("AuthURL", "required")
	}
	u, err := url.Parse(c.AuthURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid("AuthURL", "must be an absolute http(s) URL")
	}
	if u.User != nil {
		return invalid("AuthURL", "must not contain user info")
	}

	appCred := c.ApplicationCredentialID != "" || c.ApplicationCredentialName != ""
	if appCred {
		if c.ApplicationCredentialID != "" && c.ApplicationCredentialName != "" {
			return invalid("ApplicationCredentialID", "set either ApplicationCredentialID or ApplicationCredentialName, not both")
		}
		if c.ApplicationCredentialSecret == "" {
			return invalid("ApplicationCredentialSecret", "required with an application credential")
		}
		if c.Password != "" {
			return invalid("Password", "set either the password method or an application credential, not both")
		}
		if c.ApplicationCredentialName != "" {
			if c.Username == "" && c.UserID == "" {
				return invalid("Username", "required with ApplicationCredentialName (or UserID)")
			}
			if c.Username != "" && c.UserDomainName == "" && c.UserDomainID == "" {
				return invalid("UserDomainName", "required with Username")
			}
		}
		if c.ProjectName != "" || c.ProjectID != "" {
			return invalid("ProjectName", "an application credential implies its scope; leave the project empty")
		}
	} else {
		if c.Username == "" && c.UserID == "" {
			return invalid("Username", "required (or UserID, or an application credential)")
		}
		if c.Username != "" && c.UserID != "" {
			return invalid("UserID", "set either Username or UserID, not both")
		}
		if c.Username != "" && c.UserDomainName == "" && c.UserDomainID == "" {
			return invalid("UserDomainName", "required with Username (or UserDomainID)")
		}
		if c.UserDomainName != "" && c.UserDomainID != "" {
			return invalid("UserDomainID", "set either UserDomainName or UserDomainID, not both")
		}
		if c.Password == "" {
			return invalid("Password", "required for the password method")
		}
		if c.ProjectName == "" && c.ProjectID == "" {
			return invalid("ProjectName", "required (or ProjectID): the token must be project-scoped")
		}
		if c.ProjectName != "" && c.ProjectID != "" {
			return invalid("ProjectID", "set either ProjectName or ProjectID, not both")
		}
		if c.ProjectName != "" && c.ProjectDomainName == "" && c.ProjectDomainID == "" {
			return invalid("ProjectDomainName", "required with ProjectName (or ProjectDomainID)")
		}
		if c.ProjectDomainName != "" && c.ProjectDomainID != "" {
			return invalid("ProjectDomainID", "set either ProjectDomainName or ProjectDomainID, not both")
		}
	}

	switch c.RequiredInterface {
	case "", InterfaceAdmin, InterfaceInternal, InterfacePublic:
	default:
		return invalid("RequiredInterface", "must be admin, internal or public, got %q", c.RequiredInterface)
	}
	if c.Transport != nil && (c.CAFile != "" || c.InsecureSkipVerify) {
		return invalid("Transport", "CAFile and InsecureSkipVerify apply to the default transport only; configure TLS in Transport")
	}
	if c.RenewTimeout <= 0 {
		return invalid("RenewTimeout", "must be > 0, got %v", c.RenewTimeout)
	}
	if c.StuckAfter <= c.RenewTimeout {
		return invalid("StuckAfter", "must be > RenewTimeout (%v), got %v", c.RenewTimeout, c.StuckAfter)
	}
	if c.CloseTimeout <= 0 {
		return invalid("CloseTimeout", "must be > 0, got %v", c.CloseTimeout)
	}
	if !(c.RefreshFraction > 0 && c.RefreshFraction < 1) {
		return invalid("RefreshFraction", "must be in (0, 1), got %v", c.RefreshFraction)
	}
	if c.RefreshPeriod < 0 {
		return invalid("RefreshPeriod", "must be >= 0 (0 = off), got %v", c.RefreshPeriod)
	}
	if c.RetryMin <= 0 {
		return invalid("RetryMin", "must be > 0, got %v", c.RetryMin)
	}
	if c.RetryMax < c.RetryMin {
		return invalid("RetryMax", "must be >= RetryMin (%v), got %v", c.RetryMin, c.RetryMax)
	}
	if c.OutageRetryMax <= 0 {
		return invalid("OutageRetryMax", "must be > 0, got %v", c.OutageRetryMax)
	}
	if !(c.Jitter >= 0 && c.Jitter <= 0.5) {
		return invalid("Jitter", "must be in [0, 0.5], got %v", c.Jitter)
	}
	return nil
}
