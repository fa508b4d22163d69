#!/usr/bin/python3
"""confcheck.py KS_DIR - prove a generated keystone.conf is hermetic.

Loads $KS_DIR/keystone.conf through oslo.config exactly as keystone.sh's
server does (keystone.server.configure with the same config file list and the
same --config-dir), registers the option groups Keystone only registers
lazily (oslo.policy, oslo.log), and fails - naming every offending option -
if any path-valued option resolves outside KS_DIR:

  * every option whose name ends in key_repository, _file, _dir, _files,
    _dirs or _path, or is a TLS certfile/keyfile/cacert* option, with a
    non-empty value;
  * relative values count as outside: oslo.config resolves them through its
    search path (~/.keystone, /etc/keystone, /etc), i.e. machine state.

Why: Keystone's defaults point under /etc/keystone. A default left in place
works on a machine where /etc/keystone happens to exist and fails (or, worse,
silently reads foreign keys or policy) on a fresh one - issue 10 item 1.

Exit 0 when hermetic, 10 with one line per offending option otherwise.
"""
import os
import re
import sys

NAME = re.compile(r"(key_repository|_file|_dir|_files|_dirs|_path|certfile|keyfile|cacertfile|cacertdir)$")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: confcheck.py KS_DIR")
    ks_dir = os.path.realpath(sys.argv[1])
    conf_file = os.path.join(ks_dir, "keystone.conf")
    conf_d = os.path.join(ks_dir, "conf.d")
    # The server is started with exactly these arguments (keystone.sh start_server).
    sys.argv[1:] = ["--config-dir", conf_d]

    from oslo_config import cfg
    import keystone.server
    import keystone.conf
    keystone.server.configure(config_files=[conf_file])
    conf = keystone.conf.CONF
    # Groups registered only when their subsystem first runs.
    from oslo_policy import opts as policy_opts
    policy_opts._register(conf)

    bad = []
    checked = 0

    def inside(path):
        real = os.path.realpath(path)
        return real == ks_dir or real.startswith(ks_dir + os.sep)

    def walk(group, opts):
        nonlocal checked
        for name, info in sorted(opts.items()):
            opt = info["opt"]
            if isinstance(opt, (cfg.BoolOpt, cfg.IntOpt, cfg.FloatOpt, cfg.PortOpt)):
                continue
            if not NAME.search(name):
                continue
            value = getattr(conf[group], name) if group else getattr(conf, name)
            values = value if isinstance(value, (list, tuple)) else [value]
            for v in values:
                if v is None or v == "":
                    continue
                checked += 1
                label = "[%s] %s = %s" % (group or "DEFAULT", name, v)
                if not os.path.isabs(v):
                    bad.append(label + "  (relative: oslo.config resolves it through /etc/keystone, /etc, ~)")
                elif not inside(v):
                    bad.append(label + "  (outside %s)" % ks_dir)

    walk(None, conf._opts)
    for group in sorted(conf._groups):
        walk(group, conf._groups[group]._opts)

    if bad:
        print("keystone.conf is not hermetic: %d option(s) resolve outside %s:" % (len(bad), ks_dir), file=sys.stderr)
        for line in bad:
            print("  " + line, file=sys.stderr)
        sys.exit(10)
    print("keystone.conf hermetic: %d path-valued options, all under %s" % (checked, ks_dir))


if __name__ == "__main__":
    main()
