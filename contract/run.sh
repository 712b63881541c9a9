#!/usr/bin/env bash
# An outside client against a running server: schemathesis generates requests from
# /api/openapi.json and sends them as a user of each role, with that user's API token. It fails
# on any 5xx answer and on any answer that breaks its documented schema.
#
#   BULWARK_BIN=target/debug/bulwark SCHEMATHESIS=.venv/bin/st contract/run.sh [examples per operation]
set -euo pipefail

bin=${BULWARK_BIN:?the bulwark binary}
st=${SCHEMATHESIS:?the schemathesis command (st)}
examples=${1:-25}
# Absolute: the run works in a scratch directory.
bin=$(command -v "$bin" || true); st=$(command -v "$st" || true)
[ -x "$bin" ] && [ -x "$st" ] || { echo "contract/run.sh: BULWARK_BIN and SCHEMATHESIS must name programs" >&2; exit 2; }
bin=$(readlink -f "$bin"); st=$(readlink -f "$st")

dir=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
cd "$dir" # schemathesis keeps its cache in the working directory

data=(--data-dir "$dir/data")
for role in viewer operator approver admin; do
    "$bin" "${data[@]}" user add "contract-$role" --role "$role" --password-stdin <<< "contract-test-password" >/dev/null
done
base="http://127.0.0.1:$port"

serve() { # serve WORKERS
    "$bin" "${data[@]}" serve --listen "127.0.0.1:$port" --secure-cookies false --workers "$1" \
        --restore-root "$dir/restores" >>"$dir/server.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        curl -sf "$base/healthz" >/dev/null && return 0
        sleep 0.2
    done
    cat "$dir/server.log"; exit 1
}
# field a.b: that field of the JSON on standard input.
field() { python3 -c 'import functools, json, sys; print(functools.reduce(lambda v, k: v[k], sys.argv[1].split("."), json.load(sys.stdin)))' "$1"; }

# Real rows first, so that list answers are checked against data and not only against empty
# lists: a location with a repository, a configuration of a scratch directory, a completed
# backup of it and a restore test of that backup.
serve 1
seed=$("$bin" "${data[@]}" user token contract-admin --name "contract seed")
api() { curl -sf -X "$1" "$base/api/admin/backups$2" -H "Authorization: Bearer $seed" -H 'Content-Type: application/json' ${3:+--data "$3"}; }
mkdir -p "$dir/source/etc"
printf 'seeded\n' >"$dir/source/etc/app.conf"
location=$(api POST /storage-locations "{\"locationName\":\"contract\",\"storageType\":\"primary\",\"provider\":\"local\",\"pathPrefix\":\"$dir/repo\"}" | field id)
api POST "/storage-locations/$location/init" >/dev/null
configuration=$(api POST /configurations "{\"name\":\"contract\",\"sourceType\":\"filesystem\",\"sourceIdentifier\":\"$dir/source\",\"frequency\":\"manual\",\"storageLocationIds\":[\"$location\"]}" | field id)
execution=$(api POST "/configurations/$configuration/execute" '{"notes":"contract seed"}' | field executionId)
seeded() { echo "contract/run.sh: seeding stopped: $1"; cat "$dir/server.log"; exit 1; }
status=
for _ in $(seq 150); do
    status=$(api GET "/executions/$execution" | field execution.status)
    case $status in completed | failed | cancelled) break ;; esac
    sleep 0.2
done
[ "$status" = completed ] || seeded "the backup is $status"
test=$(api POST /testing/schedule "{\"testType\":\"restoration\",\"testScope\":\"single_backup\",\"targetBackup\":\"$execution\"}" | field testId)
for _ in $(seq 150); do
    status=$(api GET /testing/results | python3 -c 'import json, sys; print(next(t["status"] for t in json.load(sys.stdin)["tests"] if t["id"] == sys.argv[1]))' "$test")
    case $status in passed | failed) break ;; esac
    sleep 0.2
done
[ "$status" = passed ] || seeded "the restore test is $status"
kill "$pid"; wait "$pid" 2>/dev/null || true

# The generated requests meet a server that runs no work: what they queue stays queued, so a
# configuration they point at `/` is never backed up.
serve 0

# Schemathesis reuses ids it has seen in answers (`GET /api/me` names the token in use), so
# revoking a token or changing or deleting a user can end the credentials of the run itself:
# those operations run last, on their own.
lockout=(account_revoke users_update users_delete)
# Server-sent event streams end only when what they follow ends, and with no workers a
# restoration the run requests never does: schemathesis, which reads each answer to its end,
# would wait for ever. Their answers are not JSON schemas to check either.
streams=(--exclude-operation-id executions_events --exclude-operation-id restoration_events --exclude-operation-id health_dashboard_events)
status=0
for role in viewer operator approver admin; do
    echo "== schemathesis as $role"
    for part in rest lockout; do
        token=$("$bin" "${data[@]}" user token "contract-$role" --name "contract $part")
        filter=()
        for id in "${lockout[@]}"; do
            if [ "$part" = rest ]; then filter+=(--exclude-operation-id "$id"); else filter+=(--include-operation-id "$id"); fi
        done
        "$st" run "http://127.0.0.1:$port/api/openapi.json" \
            --header "Authorization: Bearer $token" \
            --checks not_a_server_error,response_schema_conformance \
            --max-examples "$examples" --seed 18 --no-color \
            "${filter[@]}" "${streams[@]}" || status=1
    done
done
if [ "$status" -ne 0 ]; then
    echo "== server log (errors)"
    grep -E "ERROR|panicked" "$dir/server.log" | tail -40 || true
fi
exit "$status"
