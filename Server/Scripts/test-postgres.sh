#!/usr/bin/env bash
# A throwaway PostgreSQL server for the Server package's tests (CI and local runs alike).
#   Server/Scripts/test-postgres.sh start DIR   initdb into DIR, listen on 127.0.0.1 at a free port, create the
#                                               database; prints the DATABASE_URL to use (also in DIR/url)
#   Server/Scripts/test-postgres.sh stop DIR    stop it and remove DIR
#   Server/Scripts/test-postgres.sh pause DIR   stop the server, keeping its data (a database that goes down)
#   Server/Scripts/test-postgres.sh resume DIR  start it again on the same port
# PostgreSQL refuses to run as root: when run as root, the server runs as the `postgres` user (Debian's package
# creates it). Authentication is `trust` on loopback only; the data lives in DIR and nowhere else.
set -euo pipefail
command=${1:?usage: test-postgres.sh start|stop|pause|resume DIR}
dir=${2:?usage: test-postgres.sh start|stop|pause|resume DIR}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
bin=${bin:-$(dirname "$(command -v pg_ctl)")}

as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$command" in
start)
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    as_owner "$bin/initdb" -D "$dir/data" -U kommo_segment --auth=trust --encoding=UTF8 --no-sync >"$dir/initdb.log"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200 -c fsync=off" start >/dev/null
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U kommo_segment kommo_segment
    echo "$port" >"$dir/port"
    url="postgres://kommo_segment@127.0.0.1:$port/kommo_segment?sslmode=disable"
    echo "$url" >"$dir/url"
    echo "$url"
    ;;
pause)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
    ;;
resume)
    port=$(cat "$dir/port")
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200 -c fsync=off" start >/dev/null
    ;;
stop)
    if [ -d "$dir/data" ]; then as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true; fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: test-postgres.sh start|stop|pause|resume DIR" >&2
    exit 2
    ;;
esac
