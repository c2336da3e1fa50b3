# shellcheck shell=bash
# Throwaway PostgreSQL for tests. Source this file, then:
#
#   start_postgres || exit 1
#   trap stop_postgres EXIT
#
# start_postgres makes a fresh cluster in a temp dir (initdb as the postgres
# OS user, trust auth, listening on 127.0.0.1 only), creates the database
# perseus_test and exports PERSEUS_TEST_POSTGRES_URL. If that variable is
# already set it does nothing, so a developer can point the tests at their own
# database. stop_postgres stops the cluster and removes its directory; it only
# ever touches a cluster start_postgres made. Quiet on success; on failure both
# print the server log and return non-zero. Works under `set -euo pipefail`.
# PERSEUS_PG_BIN overrides where the PostgreSQL programs are looked for.

_perseus_pg_bin() {
	local d
	for d in "${PERSEUS_PG_BIN:-}" /usr/lib/postgresql/15/bin; do
		if [[ -n $d && -x $d/initdb ]]; then echo "$d"; return 0; fi
	done
	# Any other installed version, newest first.
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -Vr); do
		if [[ -x $d/initdb ]]; then echo "$d"; return 0; fi
	done
	return 1
}

# _perseus_pg_port_free PORT: true when nothing listens on 127.0.0.1:PORT.
_perseus_pg_port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# _perseus_pg_as_postgres CMD...: runs CMD as the postgres OS user (initdb and
# the server refuse root) from the cluster directory, which it can enter.
_perseus_pg_as_postgres() {
	if [[ $(id -u) -ne 0 ]]; then
		(cd "$_PERSEUS_PG_DIR" && "$@")
	elif command -v runuser >/dev/null; then
		(cd "$_PERSEUS_PG_DIR" && runuser -u postgres -- "$@")
	else
		(cd "$_PERSEUS_PG_DIR" && su postgres -s /bin/sh -c 'exec "$0" "$@"' -- "$@")
	fi
}

# _perseus_pg_fail MESSAGE [LOG]: says what failed, shows the end of LOG, and
# removes the half-made cluster.
_perseus_pg_fail() {
	echo "start_postgres: $1" >&2
	if [[ -n ${2:-} && -s $2 ]]; then
		echo "--- $2" >&2
		tail -n 50 "$2" >&2
	fi
	stop_postgres >/dev/null 2>&1 || true
	return 1
}

start_postgres() {
	if [[ -n ${PERSEUS_TEST_POSTGRES_URL:-} ]]; then
		return 0
	fi
	local bin
	if ! bin=$(_perseus_pg_bin); then
		echo "start_postgres: no PostgreSQL found under /usr/lib/postgresql (apt-get install -y postgresql)" >&2
		return 1
	fi
	if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
		echo "start_postgres: no postgres OS user to run the server as" >&2
		return 1
	fi

	# In /tmp, not $TMPDIR: the postgres user must reach it, and the socket path must stay short.
	_PERSEUS_PG_DIR=$(mktemp -d /tmp/perseus-pg.XXXXXX) || return 1
	_PERSEUS_PG_BIN_DIR=$bin # not exported: only this shell stops what it started
	if [[ $(id -u) -eq 0 ]]; then
		chown postgres: "$_PERSEUS_PG_DIR" || _perseus_pg_fail "cannot chown $_PERSEUS_PG_DIR" || return 1
	fi

	if ! _perseus_pg_as_postgres "$bin/initdb" -D "$_PERSEUS_PG_DIR/data" -U postgres -A trust \
		-E UTF8 --locale=C --no-sync >"$_PERSEUS_PG_DIR/initdb.log" 2>&1; then
		_perseus_pg_fail "initdb failed" "$_PERSEUS_PG_DIR/initdb.log"
		return 1
	fi

	local port=55432
	while ! _perseus_pg_port_free "$port"; do
		port=$((port + 1))
		if ((port > 55532)); then
			_perseus_pg_fail "no free port in 55432-55532"
			return 1
		fi
	done
	# fsync off: the data is thrown away anyway, and tests run faster. It goes
	# in postgresql.auto.conf, not on the command line, so that ALTER SYSTEM
	# can turn it on (the benchmark's durable rows do, and restore it).
	if ! _perseus_pg_as_postgres sh -c 'echo "fsync = off" >> "$0"' "$_PERSEUS_PG_DIR/data/postgresql.auto.conf"; then
		_perseus_pg_fail "could not write postgresql.auto.conf"
		return 1
	fi
	if ! _perseus_pg_as_postgres "$bin/pg_ctl" -D "$_PERSEUS_PG_DIR/data" -l "$_PERSEUS_PG_DIR/server.log" \
		-w -t 60 -o "-c listen_addresses=127.0.0.1 -p $port -k $_PERSEUS_PG_DIR -c max_connections=200" \
		start >/dev/null 2>&1; then
		_perseus_pg_fail "the server did not start on 127.0.0.1:$port" "$_PERSEUS_PG_DIR/server.log"
		return 1
	fi
	if ! "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres perseus_test >>"$_PERSEUS_PG_DIR/server.log" 2>&1; then
		_perseus_pg_fail "createdb perseus_test failed" "$_PERSEUS_PG_DIR/server.log"
		return 1
	fi
	export PERSEUS_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/perseus_test?sslmode=disable"
}

stop_postgres() {
	local dir=${_PERSEUS_PG_DIR:-} bin=${_PERSEUS_PG_BIN_DIR:-} rc=0
	if [[ -z $dir ]]; then
		return 0 # nothing of ours is running
	fi
	if [[ -f $dir/data/postmaster.pid ]]; then
		if ! _perseus_pg_as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1; then
			echo "stop_postgres: pg_ctl stop -m fast failed; stopping -m immediate" >&2
			if [[ -s $dir/server.log ]]; then tail -n 50 "$dir/server.log" >&2; fi
			_perseus_pg_as_postgres "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
			rc=1
		fi
	fi
	rm -rf "$dir"
	unset _PERSEUS_PG_DIR _PERSEUS_PG_BIN_DIR PERSEUS_TEST_POSTGRES_URL
	return "$rc"
}
