package client

import (
	"context"
	"strconv"
	"time"

	"opendev.org/starlingx/metal-go/hostsvc"
)

// LUKSVault is the dm-crypt mapping StarlingX's encrypted vault uses; the
// check is "cryptsetup status luks_encrypted_vault" (spec K.2).
const LUKSVault = "luks_encrypted_vault"

// DefaultLUKSTimeout bounds one LUKS check.
const DefaultLUKSTimeout = 10 * time.Second

// luksLoop runs the LUKS check at start and then every AlivePeriod, each
// under LUKSTimeout, through the client's launcher (no shell; a check that
// outlives its timeout is killed with its process group). The result of
// the last finished check sets LUKS_VOL_FAILED in mtcAlive: a non-zero
// exit, a launch failure or a timeout is a failure. StarlingX runs the
// check while it builds each mtcAlive, so a hung cryptsetup delays its
// mtcAlive; here it never does.
func (c *Client) luksLoop(ctx context.Context) {
	t := time.NewTicker(c.cfg.AlivePeriod)
	defer t.Stop()
	for {
		failed, why := c.luksCheck(ctx)
		if ctx.Err() != nil {
			return
		}
		if was := c.luksFailed.Swap(failed); was != failed {
			if failed {
				c.log.Error("LUKS volume check failed", "vault", LUKSVault, "reason", why)
			} else {
				c.log.Info("LUKS volume check passes", "vault", LUKSVault)
			}
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// luksCheck runs "Cryptsetup status luks_encrypted_vault" once.
func (c *Client) luksCheck(ctx context.Context) (failed bool, why string) {
	env := c.cfg.ScriptEnv
	if env == nil {
		env = hostsvc.DefaultEnv()
	}
	p, err := c.launcher.Launch(hostsvc.LaunchSpec{Path: c.cfg.Cryptsetup, Args: []string{"status", LUKSVault}, Env: env})
	if err != nil {
		return true, "launch: " + err.Error()
	}
	type exit struct {
		code int
		err  error
	}
	done := make(chan exit, 1)
	go func() {
		code, err := p.Wait()
		done <- exit{code, err}
	}()
	t := time.NewTimer(c.cfg.LUKSTimeout)
	defer t.Stop()
	var e exit
	timedOut := false
	select {
	case e = <-done:
	case <-t.C:
		timedOut = true
		_ = p.Kill()
		e = <-done
	case <-ctx.Done():
		_ = p.Kill()
		<-done
		return false, ""
	}
	switch {
	case timedOut:
		return true, "timeout after " + c.cfg.LUKSTimeout.String()
	case e.err != nil:
		return true, e.err.Error()
	case e.code != 0:
		return true, "exit code " + strconv.Itoa(e.code)
	}
	return false, ""
}
