#!/usr/bin/env bash
# keystone.sh - run a REAL OpenStack Keystone (Debian's python3-keystone) on
# loopback for integration tests: sqlite, fernet tokens, short token
# expiration, a "platform" service (StarlingX SysInv's type) with admin,
# internal and public endpoints registered in the catalog.
#
# Usage: keystone.sh COMMAND
#   check    exit 0 if python3-keystone is installed, 3 if not
#   check-conf  verify $KS_DIR/keystone.conf is hermetic (confcheck.py): every
#            key repository, *_file and *_dir option resolves under $KS_DIR
#   install  apt-get install python3-keystone (no recommends; needs root/network)
#   up       create $KS_DIR, configure, bootstrap, start, register the platform
#            service; prints shell exports (also written to $KS_DIR/env)
#   stop     stop the server, keep $KS_DIR (db, keys): "start" resumes it
#   start    restart a stopped server from $KS_DIR on the same port
#   down     stop the server and remove $KS_DIR (only a dir that "up" created)
#
# Environment (defaults):
#   KS_DIR=/tmp/keystone-test   state dir: keystone.conf, keystone.db, keys, logs, pids
#   KS_HOST=127.0.0.1           bind address (loopback only)
#   KS_PORT=5000                TCP port; 0 = pick a free one (up only)
#   KS_ADMIN_USER=admin         bootstrap admin (domain "default", role admin)
#   KS_ADMIN_PASSWORD=admin-secret
#   KS_PROJECT=admin            bootstrap project (domain "default")
#   KS_REGION=RegionOne
#   KS_TOKEN_EXPIRATION=60      [token] expiration, seconds
#   KS_PLATFORM_URL=http://127.0.0.1:6385/v1   URL of the platform endpoints
#   KS_READY_TIMEOUT=60         seconds to wait for GET /v3 = 200
#   KS_WATCH_PID=               if set, a watchdog stops the server once this
#                               PID is gone (e.g. the go test binary)
#
# Everything stays on loopback; no network is needed beyond it (except for
# "install"). The server runs in its own session and process group; it never
# inherits the caller's stdout/stderr (Go's exec.Cmd.Output would wait for it).
#
# Facts this script relies on (Debian 12, keystone 22 "Zed"):
#  * Keystone's path defaults (key repositories, domain configs, policy, SAML
#    certificates, ...) point under /etc/keystone, and oslo.config searches
#    /etc/keystone/keystone.conf.d by default. Every such option is set under
#    $KS_DIR and every process gets an explicit --config-dir; confcheck.py
#    fails the set-up naming any option that still resolves elsewhere.
#  * sqlite must be in WAL mode: keystone 22 leaks a read transaction
#    (federation sql backend returns a lazy Query from a closed session) that
#    makes writes (DELETE /v3/auth/tokens, POST /v3/users) fail with
#    "database is locked" in rollback-journal mode.
#  * [cache] memory backend: ~13 ms per validation instead of ~0.6 s. Safe only
#    with one server process (we run one).
#  * password_hash_rounds = 4 must be set before bootstrap (stored in the hash).
#  * the stock keystone-wsgi-public (wsgiref) listens with backlog 5: bursts
#    stall on dropped SYNs; we run the same app with backlog 128.
#  * /usr/bin/python3, never a pyenv/venv shim, sees Debian's dist-packages.
#  * a killed server is a zombie until reaped: liveness reads /proc/PID/stat.
set -euo pipefail

KS_DIR=${KS_DIR:-/tmp/keystone-test}
KS_HOST=${KS_HOST:-127.0.0.1}
KS_PORT=${KS_PORT:-5000}
KS_ADMIN_USER=${KS_ADMIN_USER:-admin}
KS_ADMIN_PASSWORD=${KS_ADMIN_PASSWORD:-admin-secret}
KS_PROJECT=${KS_PROJECT:-admin}
KS_REGION=${KS_REGION:-RegionOne}
KS_TOKEN_EXPIRATION=${KS_TOKEN_EXPIRATION:-60}
KS_PLATFORM_URL=${KS_PLATFORM_URL:-http://127.0.0.1:6385/v1}
KS_READY_TIMEOUT=${KS_READY_TIMEOUT:-60}
KS_WATCH_PID=${KS_WATCH_PID:-}

PY=/usr/bin/python3
log() { printf '[keystone.sh] %s\n' "$*" >&2; }
die() { log "$2"; exit "$1"; }
alive() { kill -0 "$1" 2>/dev/null && [ "$(sed -n 's/.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }

case "$KS_HOST" in
  127.*|::1|localhost) ;;
  *) die 2 "refusing KS_HOST=$KS_HOST: loopback only" ;;
esac

installed() {
  # Cheap: locate the package without importing it (imports cost seconds).
  [ -x "$PY" ] && "$PY" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("keystone") is None or u.find_spec("keystone.server") is None)' 2>/dev/null
}

cmd_check() {
  installed || die 3 "python3-keystone is not installed (apt-get install --no-install-recommends python3-keystone, or: $0 install)"
}

cmd_install() {
  if installed; then log "python3-keystone already installed"; return; fi
  # python3-keystone only: the "keystone" package would add debconf questions,
  # a system user and an init script starting uwsgi on port 5000.
  export DEBIAN_FRONTEND=noninteractive
  apt-cache show python3-keystone >/dev/null 2>&1 || apt-get update -qq
  apt-get install -y -qq --no-install-recommends python3-keystone
}

# stop_pidfile FILE: SIGTERM the process group led by the PID in FILE, SIGKILL
# after 10 s.
stop_pidfile() {
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if [ -n "$pid" ] && alive "$pid"; then
    kill -TERM "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
      log "pid $pid ignored SIGTERM for 10s, sending SIGKILL"
      kill -KILL "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$f"
}

cmd_stop() {
  stop_pidfile "$KS_DIR/watchdog.pid"
  if [ -f "$KS_DIR/keystone.pid" ]; then
    stop_pidfile "$KS_DIR/keystone.pid"
    log "stopped"
  fi
}

cmd_down() {
  cmd_stop
  # Only ever delete a directory this script made.
  if [ -f "$KS_DIR/.keystone-sh" ]; then rm -rf "$KS_DIR"; fi
}

# start_server: spawn the server detached, wait until GET /v3 answers 200.
start_server() {
  local url="http://$KS_HOST:$KS_PORT/v3" t pid
  if (exec 3<>"/dev/tcp/$KS_HOST/$KS_PORT") 2>/dev/null; then
    die 5 "port $KS_HOST:$KS_PORT already in use"
  fi
  t=$(now)
  rm -f "$KS_DIR/keystone.pid"
  # The child writes its own PID before exec'ing the server, so the pidfile
  # holds the server's PID even if setsid had to fork; setsid gives it its own
  # session and process group (stop signals the group).
  OS_KEYSTONE_CONFIG_DIR="$KS_DIR" setsid sh -c 'echo $$ >"$0"; exec "$@"' "$KS_DIR/keystone.pid" \
    "$PY" -c '
import sys, wsgiref.simple_server as wss
host, port, confd = sys.argv[1], int(sys.argv[2]), sys.argv[3]
# oslo.config parses sys.argv when the app initialises: give it only an
# explicit --config-dir, so its default search (/etc/keystone/keystone.conf.d,
# ...) never runs. OS_KEYSTONE_CONFIG_DIR names the config file.
sys.argv[1:] = ["--config-dir", confd]
from keystone.server.wsgi import initialize_public_application
class Server(wss.WSGIServer):
    request_queue_size = 128
app = initialize_public_application()
srv = wss.make_server(host, port, app, server_class=Server)
print("keystone listening on %s:%d" % (host, port), flush=True)
srv.serve_forever()
' "$KS_HOST" "$KS_PORT" "$KS_DIR/conf.d" >>"$KS_DIR/server.log" 2>&1 </dev/null &
  for _ in $(seq 1 50); do [ -s "$KS_DIR/keystone.pid" ] && break; sleep 0.1; done
  [ -s "$KS_DIR/keystone.pid" ] || { cat "$KS_DIR/server.log" >&2; die 7 "server did not start"; }
  pid=$(cat "$KS_DIR/keystone.pid")
  # Readiness: one python process polls (urllib, proxies ignored: loopback).
  if ! "$PY" - "$url" "$pid" "$KS_READY_TIMEOUT" <<'PYEOF'
import os, sys, time, urllib.request
url, pid, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
deadline = time.monotonic() + timeout
def alive():
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
while time.monotonic() < deadline:
    if not alive():
        sys.exit("server exited during startup")
    try:
        with opener.open(url, timeout=2) as r:
            if r.status == 200:
                sys.exit(0)
    except Exception:
        pass
    time.sleep(0.1)
sys.exit("not ready after %gs" % timeout)
PYEOF
  then
    tail -n 40 "$KS_DIR/server.log" "$KS_DIR/keystone.log" >&2 2>/dev/null || true
    kill -TERM "-$pid" 2>/dev/null || true
    die 8 "server at $url not ready"
  fi
  log "server pid $pid ready at $url after $(elapsed "$t")s"
  if [ -n "$KS_WATCH_PID" ]; then
    # Stops the server once $KS_WATCH_PID is gone (a killed test binary never
    # runs its cleanup). It writes its own PID; stop kills it first.
    setsid sh -c 'echo $$ >"$2"
      up() { kill -0 "$1" 2>/dev/null && [ "$(sed -n "s/.*) \(.\).*/\1/p" "/proc/$1/stat" 2>/dev/null)" != Z ]; }
      while up "$0" && up "$1"; do sleep 1; done
      kill -TERM -"$1" 2>/dev/null' "$KS_WATCH_PID" "$pid" "$KS_DIR/watchdog.pid" >/dev/null 2>&1 </dev/null &
    for _ in $(seq 1 50); do [ -s "$KS_DIR/watchdog.pid" ] && break; sleep 0.1; done
  fi
}

cmd_start() {
  [ -f "$KS_DIR/.keystone-sh" ] || die 2 "$KS_DIR was not created by '$0 up'"
  if [ -f "$KS_DIR/keystone.pid" ] && alive "$(cat "$KS_DIR/keystone.pid")"; then
    die 4 "already running: pid $(cat "$KS_DIR/keystone.pid")"
  fi
  # shellcheck disable=SC1091
  . "$KS_DIR/state"
  start_server
}

cmd_up() {
  cmd_check
  if [ -f "$KS_DIR/keystone.pid" ] && alive "$(cat "$KS_DIR/keystone.pid")"; then
    die 4 "already running: pid $(cat "$KS_DIR/keystone.pid") (run down first)"
  fi
  if [ -e "$KS_DIR" ] && [ -n "$(ls -A "$KS_DIR" 2>/dev/null)" ] && [ ! -f "$KS_DIR/.keystone-sh" ]; then
    die 2 "refusing to wipe non-empty $KS_DIR that this script did not create"
  fi
  rm -rf "$KS_DIR"
  mkdir -p "$KS_DIR/fernet-keys" "$KS_DIR/credential-keys" "$KS_DIR/conf.d" \
    "$KS_DIR/domains" "$KS_DIR/jws-keys/public" "$KS_DIR/jws-keys/private" \
    "$KS_DIR/policy.d" "$KS_DIR/lock" "$KS_DIR/saml"
  touch "$KS_DIR/.keystone-sh"
  chmod 700 "$KS_DIR" "$KS_DIR/fernet-keys" "$KS_DIR/credential-keys" "$KS_DIR/jws-keys/private"
  KS_DIR=$(cd "$KS_DIR" && pwd)   # sqlite URL and key repositories must be absolute

  if [ "$KS_PORT" = 0 ]; then
    KS_PORT=$("$PY" -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1])' "$KS_HOST")
  fi
  local url="http://$KS_HOST:$KS_PORT/v3" t
  printf 'KS_HOST=%q\nKS_PORT=%q\n' "$KS_HOST" "$KS_PORT" >"$KS_DIR/state"

  cat >"$KS_DIR/keystone.conf" <<CONF
[DEFAULT]
log_file = $KS_DIR/keystone.log
debug = false

[database]
connection = sqlite:///$KS_DIR/keystone.db

[token]
provider = fernet
expiration = $KS_TOKEN_EXPIRATION

[fernet_tokens]
key_repository = $KS_DIR/fernet-keys

[fernet_receipts]
key_repository = $KS_DIR/fernet-keys

[credential]
key_repository = $KS_DIR/credential-keys

[jwt_tokens]
jws_public_key_repository = $KS_DIR/jws-keys/public
jws_private_key_repository = $KS_DIR/jws-keys/private

[identity]
password_hash_rounds = 4
domain_config_dir = $KS_DIR/domains

[catalog]
template_file = $KS_DIR/default_catalog.templates

[saml]
certfile = $KS_DIR/saml/signing_cert.pem
keyfile = $KS_DIR/saml/signing_key.pem
idp_metadata_path = $KS_DIR/saml/idp_metadata.xml

[oslo_concurrency]
lock_path = $KS_DIR/lock

[oslo_messaging_metrics]
metrics_socket_file = $KS_DIR/metrics_collector.sock

[oslo_middleware]
http_basic_auth_user_file = $KS_DIR/htpasswd

[cache]
enabled = true
backend = dogpile.cache.memory

[oslo_policy]
enforce_new_defaults = false
enforce_scope = false
policy_file = $KS_DIR/policy.yaml
policy_dirs = $KS_DIR/policy.d
CONF

  # Every path-valued option must resolve under \$KS_DIR: Keystone's defaults
  # point at /etc/keystone, which exists only where someone installed the
  # "keystone" package or ran keystone-manage by hand (issue 10 item 1).
  "$PY" "$(dirname "$0")/confcheck.py" "$KS_DIR" >"$KS_DIR/confcheck.log" 2>&1 \
    || { cat "$KS_DIR/confcheck.log" >&2; die 10 "generated keystone.conf is not hermetic"; }

  t=$(now)
  # keystone-manage db_sync + bootstrap in ONE python process (each
  # keystone-manage run costs ~2-3 s of CPU in imports; on a busy 2-core CI
  # box that dominates start-up). The fernet and credential key repositories
  # are written directly: a key is base64url(32 random bytes), files "0"
  # (staged) and "1" (primary), mode 600 in a 700 dir - what fernet_setup and
  # credential_setup write.
  KS_ADMIN_PASSWORD="$KS_ADMIN_PASSWORD" "$PY" - "$KS_DIR/keystone.conf" "$KS_ADMIN_USER" "$KS_PROJECT" "$KS_REGION" "$url" \
    >"$KS_DIR/manage.log" 2>&1 <<'PYEOF' || { tail -n 40 "$KS_DIR/manage.log" "$KS_DIR/keystone.log" >&2 2>/dev/null; die 6 "keystone setup failed"; }
import base64, os, sqlite3, sys
conf, user, project, region, url = sys.argv[1:6]
from keystone.cmd import cli
import keystone.conf
CONF = keystone.conf.CONF
confd = os.path.join(os.path.dirname(conf), "conf.d")
# --config-dir: never oslo.config's default search (/etc/keystone/keystone.conf.d, ...).
cli.main(argv=["keystone-manage", "--config-file", conf, "--config-dir", confd, "db_sync"])
# WAL journal mode (persistent in the db file), REQUIRED: keystone 22's
# federation sql backend leaks a read transaction (lazy Query out of a closed
# session) that blocks every writer in rollback-journal mode -> random HTTP
# 500 "database is locked" on DELETE /v3/auth/tokens, POST /v3/users, ...
db = CONF.database.connection[len("sqlite:///"):]
if sqlite3.connect(db).execute("PRAGMA journal_mode=WAL").fetchone()[0] != "wal":
    sys.exit("could not switch sqlite to WAL")
for repo in (CONF.fernet_tokens.key_repository, CONF.credential.key_repository):
    for name in ("0", "1"):
        fd = os.open(os.path.join(repo, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, base64.urlsafe_b64encode(os.urandom(32)))
        os.close(fd)
CONF(args=["--config-file", conf, "--config-dir", confd, "bootstrap",
           "--bootstrap-username", user,
           "--bootstrap-password", os.environ["KS_ADMIN_PASSWORD"],
           "--bootstrap-project-name", project,
           "--bootstrap-role-name", "admin",
           "--bootstrap-service-name", "keystone",
           "--bootstrap-region-id", region,
           "--bootstrap-admin-url", url,
           "--bootstrap-internal-url", url,
           "--bootstrap-public-url", url], project="keystone")
CONF.command.cmd_class.main()
PYEOF
  log "db_sync + keys + bootstrap took $(elapsed "$t")s"

  start_server

  # Register the platform service through the API, as an operator would.
  t=$(now)
  KS_ADMIN_PASSWORD="$KS_ADMIN_PASSWORD" "$PY" - "$url" "$KS_ADMIN_USER" "$KS_PROJECT" "$KS_REGION" "$KS_PLATFORM_URL" <<'PYEOF' || { cmd_stop; die 9 "registering the platform service failed"; }
import json, os, sys, urllib.request
url, user, project, region, platform_url = sys.argv[1:6]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
def call(method, path, body=None, token=None):
    req = urllib.request.Request(url + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"})
    if token:
        req.add_header("X-Auth-Token", token)
    with opener.open(req, timeout=30) as r:
        return r.headers, json.loads(r.read() or b"null")
h, _ = call("POST", "/auth/tokens", {"auth": {
    "identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"}, "password": os.environ["KS_ADMIN_PASSWORD"]}}},
    "scope": {"project": {"name": project, "domain": {"id": "default"}}}}})
tok = h["X-Subject-Token"]
_, svc = call("POST", "/services", {"service": {"type": "platform", "name": "sysinv", "enabled": True}}, tok)
for iface in ("admin", "internal", "public"):
    call("POST", "/endpoints", {"endpoint": {"service_id": svc["service"]["id"], "interface": iface,
        "region_id": region, "url": platform_url, "enabled": True}}, tok)
PYEOF
  log "platform service registered in $(elapsed "$t")s"

  cat >"$KS_DIR/env" <<ENV
export KS_DIR='$KS_DIR'
export KS_PID='$(cat "$KS_DIR/keystone.pid")'
export KS_PORT='$KS_PORT'
export OS_AUTH_URL='$url'
export OS_IDENTITY_API_VERSION=3
export OS_USERNAME='$KS_ADMIN_USER'
export OS_PASSWORD='$KS_ADMIN_PASSWORD'
export OS_PROJECT_NAME='$KS_PROJECT'
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME='$KS_REGION'
export KS_TOKEN_EXPIRATION='$KS_TOKEN_EXPIRATION'
export KS_PLATFORM_URL='$KS_PLATFORM_URL'
ENV
  chmod 600 "$KS_DIR/env"
  cat "$KS_DIR/env"
}

case "${1:-}" in
  check) cmd_check ;;
  check-conf) "$PY" "$(dirname "$0")/confcheck.py" "$KS_DIR" ;;
  install) cmd_install ;;
  up) cmd_up ;;
  stop) cmd_stop ;;
  start) cmd_start ;;
  down) cmd_down ;;
  *) sed -n '2,30p' "$0" >&2; exit 2 ;;
esac
