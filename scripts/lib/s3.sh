# shellcheck shell=bash
# s3.sh: a throwaway S3 server (versitygw, posix backend) for tests. Source it:
#
#   . scripts/lib/s3.sh
#   start_s3 || exit 1
#   trap stop_s3 EXIT
#   go test ./store/blob/s3/
#
# start_s3 exports AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and
# PERSEUS_TEST_S3_URL (bucket perseus-test). If PERSEUS_TEST_S3_URL is already
# set it starts nothing and uses that. Both functions are quiet on success; on
# failure start_s3 prints the server log and returns non-zero.
#
# versitygw sends bucket event notifications (object PUTs) to a webhook, as
# a production store would to perseus's POST /api/v0/s3/events. The URL is
# fixed when it starts, before any server under test exists, and the tests
# of many packages share it at once, each server on a random port: so it
# posts to a relay (internal/testenv/s3relay) started first, and start_s3
# exports PERSEUS_TEST_S3_EVENTS, the relay's base URL, at which a test
# subscribes its server to the notifications of its own key prefix
# (testenv.S3Events). What no one subscribed to is dropped. With an
# S3 server of your own (PERSEUS_TEST_S3_URL set), set PERSEUS_TEST_S3_EVENTS
# to such a relay it posts to, or the tests of notifications skip (and fail
# with CI=true).

PERSEUS_VERSITYGW_VERSION="${PERSEUS_VERSITYGW_VERSION:-v1.8.0}"
_PERSEUS_S3_PID=""
_PERSEUS_S3_DIR=""
_PERSEUS_S3_RELAY_PID=""
_PERSEUS_S3_RELAY=""
_PERSEUS_S3_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# _perseus_s3_bin prints the path of versitygw: from PATH, else from go install's
# target directory, installing it there first if it is missing.
_perseus_s3_bin() {
	local bin log
	if bin="$(command -v versitygw)"; then
		echo "$bin"
		return 0
	fi
	bin="$(go env GOBIN)" || return 1
	if [ -z "$bin" ]; then
		bin="$(go env GOPATH)" || return 1
		bin="${bin%%:*}/bin"
	fi
	if [ ! -x "$bin/versitygw" ]; then
		log="$(mktemp)" || return 1
		if ! go install "github.com/versity/versitygw/cmd/versitygw@$PERSEUS_VERSITYGW_VERSION" >"$log" 2>&1; then
			echo "start_s3: go install versitygw@$PERSEUS_VERSITYGW_VERSION failed:" >&2
			cat "$log" >&2
			rm -f "$log"
			return 1
		fi
		rm -f "$log"
	fi
	echo "$bin/versitygw"
}

# _perseus_s3_free_port prints a TCP port on 127.0.0.1 that nothing listens on.
_perseus_s3_free_port() {
	local port _
	for _ in $(seq 50); do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# _perseus_s3_relay builds and starts the relay of event notifications in
# $_PERSEUS_S3_DIR and sets _PERSEUS_S3_RELAY to the address it listens on.
_perseus_s3_relay() {
	local _
	if ! (cd "$_PERSEUS_S3_ROOT" && go build -o "$_PERSEUS_S3_DIR/s3relay" ./internal/testenv/s3relay) >>"$_PERSEUS_S3_DIR/log" 2>&1; then
		echo "building internal/testenv/s3relay failed" >&2
		return 1
	fi
	"$_PERSEUS_S3_DIR/s3relay" -addr 127.0.0.1:0 -addr-file "$_PERSEUS_S3_DIR/relay.addr" </dev/null >>"$_PERSEUS_S3_DIR/log" 2>&1 &
	_PERSEUS_S3_RELAY_PID=$!
	for _ in $(seq 100); do
		if [ -s "$_PERSEUS_S3_DIR/relay.addr" ]; then
			_PERSEUS_S3_RELAY="$(cat "$_PERSEUS_S3_DIR/relay.addr")"
			return 0
		fi
		kill -0 "$_PERSEUS_S3_RELAY_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "the relay of event notifications did not start" >&2
	return 1
}

# _perseus_s3_fail prints why start_s3 failed and the server log, then cleans up.
_perseus_s3_fail() {
	echo "start_s3: $1" >&2
	if [ -s "$_PERSEUS_S3_DIR/log" ]; then
		echo "--- versitygw log ---" >&2
		cat "$_PERSEUS_S3_DIR/log" >&2
	fi
	stop_s3
	return 1
}

# start_s3 starts versitygw on a free port over a fresh temp dir, creates the
# bucket perseus-test and exports the variables the tests read.
start_s3() {
	if [ -n "${PERSEUS_TEST_S3_URL:-}" ]; then
		return 0
	fi
	if [ -n "$_PERSEUS_S3_PID" ]; then
		echo "start_s3: already started (pid $_PERSEUS_S3_PID)" >&2
		return 1
	fi
	if ! command -v curl >/dev/null 2>&1; then
		echo "start_s3: curl is required (apt-get install curl)" >&2
		return 1
	fi
	local bin key secret port code attempt ready meta=()
	bin="$(_perseus_s3_bin)" || return 1
	_PERSEUS_S3_DIR="$(mktemp -d "${TMPDIR:-/tmp}/perseus-s3.XXXXXX")" || return 1
	mkdir -p "$_PERSEUS_S3_DIR/root" "$_PERSEUS_S3_DIR/meta"
	# versitygw posts a test event to the webhook as it starts, and will not
	# start if nothing listens there: the relay comes first.
	_perseus_s3_relay || { _perseus_s3_fail "no relay of event notifications"; return 1; }
	# Only object PUTs (a presigned upload's arrival) are notified.
	echo '{"s3:ObjectCreated:Put": true}' >"$_PERSEUS_S3_DIR/events.json"
	key="perseus-$(od -An -tx1 -N6 /dev/urandom | tr -d ' \n')"
	secret="$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')"

	for attempt in 1 2 3 4; do
		port="$(_perseus_s3_free_port)" || { _perseus_s3_fail "no free port"; return 1; }
		# The posix backend keeps metadata in user xattrs; --sidecar keeps it
		# in files instead, for filesystems without them.
		ROOT_ACCESS_KEY="$key" ROOT_SECRET_KEY="$secret" "$bin" \
			--port "127.0.0.1:$port" --region us-east-1 --quiet \
			--event-webhook-url "http://$_PERSEUS_S3_RELAY/events" --event-filter "$_PERSEUS_S3_DIR/events.json" \
			posix "${meta[@]}" "$_PERSEUS_S3_DIR/root" </dev/null >"$_PERSEUS_S3_DIR/log" 2>&1 &
		_PERSEUS_S3_PID=$!
		ready=""
		for _ in $(seq 100); do
			if ! kill -0 "$_PERSEUS_S3_PID" 2>/dev/null; then
				break
			fi
			if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; then
				ready=1
				break
			fi
			sleep 0.1
		done
		[ -n "$ready" ] && break
		if kill -0 "$_PERSEUS_S3_PID" 2>/dev/null; then
			_perseus_s3_fail "versitygw did not answer on 127.0.0.1:$port within 10s"
			return 1
		fi
		wait "$_PERSEUS_S3_PID" 2>/dev/null || true
		_PERSEUS_S3_PID=""
		if grep -q "xattr check failed" "$_PERSEUS_S3_DIR/log" && [ ${#meta[@]} -eq 0 ]; then
			meta=(--sidecar "$_PERSEUS_S3_DIR/meta")
		elif ! grep -qi "address already in use" "$_PERSEUS_S3_DIR/log"; then
			_perseus_s3_fail "versitygw exited (attempt $attempt)"
			return 1
		fi
	done
	[ -n "$ready" ] || { _perseus_s3_fail "versitygw would not start"; return 1; }

	# versitygw demands x-amz-content-sha256; this is the hash of no body.
	code="$(curl -s -o "$_PERSEUS_S3_DIR/mb.out" -w '%{http_code}' -X PUT \
		-H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
		--aws-sigv4 "aws:amz:us-east-1:s3" --user "$key:$secret" \
		"http://127.0.0.1:$port/perseus-test")"
	if [ "$code" != 200 ]; then
		cat "$_PERSEUS_S3_DIR/mb.out" >>"$_PERSEUS_S3_DIR/log" 2>/dev/null
		_perseus_s3_fail "creating bucket perseus-test: HTTP $code"
		return 1
	fi

	export AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret" AWS_REGION=us-east-1
	export PERSEUS_TEST_S3_URL="s3://perseus-test?endpoint=http://127.0.0.1:$port&region=us-east-1"
	export PERSEUS_TEST_S3_EVENTS="http://$_PERSEUS_S3_RELAY"
}

# stop_s3 stops the server (and relay) start_s3 started, if any, and removes
# its data.
stop_s3() {
	if [ -n "$_PERSEUS_S3_PID" ]; then
		kill "$_PERSEUS_S3_PID" 2>/dev/null || true
		wait "$_PERSEUS_S3_PID" 2>/dev/null || true
		_PERSEUS_S3_PID=""
		unset PERSEUS_TEST_S3_URL PERSEUS_TEST_S3_EVENTS
	fi
	if [ -n "$_PERSEUS_S3_RELAY_PID" ]; then
		kill "$_PERSEUS_S3_RELAY_PID" 2>/dev/null || true
		wait "$_PERSEUS_S3_RELAY_PID" 2>/dev/null || true
		_PERSEUS_S3_RELAY_PID=""
		_PERSEUS_S3_RELAY=""
	fi
	if [ -n "$_PERSEUS_S3_DIR" ]; then
		rm -rf "$_PERSEUS_S3_DIR"
		_PERSEUS_S3_DIR=""
	fi
	return 0
}
