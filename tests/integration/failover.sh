#!/bin/sh
# tests/integration/failover.sh — the archive on a replicated PostgreSQL
# (three nodes under Patroni with etcd, synchronous_mode_strict) while the
# primary is lost and switched over under load (issue 17.1).
#
# Runs inside tests/pg-harness.sh (make test: FAILOVERS=2, one host loss and
# one switchover; tests/torture/failover.sh: 10).  The harness's own server
# is not used: tests/lib/patroni-fixture.sh starts etcd and three Patroni
# nodes, and every client (cofferctl, psql, both gateways) gets the
# multi-host conninfo of all three (PGHOST/PGPORT lists; the daemons ask
# for target_session_attrs=read-write by default, common/pg.c).
# 4 devices stream through 2 gateways (2 each) with retrying clients.
# Failover I (odd): the leader's host is lost — kill -9 of its Patroni and
# then of its postmaster and every backend; Patroni promotes the
# synchronous standby after the leader key expires (ttl), the lost node
# is started again and rejoins (pg_rewind) before the next round.  Even
# rounds: a planned switchover to the synchronous standby.
# Then both standbys are stopped: with synchronous_mode_strict no commit
# can complete, so no request sent after they were gone is acknowledged
# until one is back.
# Asserts: no acknowledged record lost, none stored twice, no seq gap or
# reuse, rows = acknowledgements, cofferctl verify clean against both
# gateways' witness files (after every failover and at the end), the same
# gateway processes throughout, and the strict-mode window above.
# Figures: failovers, the longest time without any acknowledgement around
# each failover (the last by the old primary to the first by the new;
# median, max), and the tally.
set -u

FF_NAME=${FF_NAME:-failover}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/fault-fixture.sh
. "$HERE/../lib/fault-fixture.sh"
# shellcheck source=../lib/patroni-fixture.sh
. "$HERE/../lib/patroni-fixture.sh"

FAILOVERS=${FAILOVERS:-2}
RECORDS=${RECORDS:-60000}

all_cleanup() {
	ff_cleanup
	[ -z "${GW2_PID:-}" ] || kill -9 "$GW2_PID" 2>/dev/null
	pf_cleanup
}

pf_init || { echo "$FF_NAME: etcd"; exit 1; }
trap all_cleanup EXIT
for n in 1 2 3; do
	pf_start "$n"
	[ "$n" = 1 ] && { pf_wait_leader 120 >/dev/null || { echo "$FF_NAME: no leader"; exit 1; }; }
done
pf_wait_members 3 180 && pf_wait_sync 60 || { echo "$FF_NAME: cluster did not form"; exit 1; }
pf_setup_db || { echo "$FF_NAME: database on the cluster"; exit 1; }
# The gateways and cofferctl get no PGTARGETSESSIONATTRS: their own default
# (read-write) must keep them off the standbys; psql here is told.
unset PGTARGETSESSIONATTRS
FF_PSQL="env PGTARGETSESSIONATTRS=read-write $FF_PSQL"

ff_setup ff-fo 4 || die "gateway, tenant, 4 devices"
trap all_cleanup EXIT
ok "3-node Patroni cluster ($(pf_leader) leads), gateway 1 started with 4 devices"
grep -q "^pg_conninfo = host=127.0.0.1,127.0.0.1,127.0.0.1 port=$PF_PG1,$PF_PG2,$PF_PG3 " "$GWF_CONF" ||
    bad "gateway conninfo names the three nodes"

# gateway 2: its own node (so its own streams), port and witness file
"$GWF_CTL" node init --name ff-node2 --key-out "$GWF_DIR/node2.key" \
    --pins "$COFFER_NODE_PINS" >"$GWF_DIR/node2.out" 2>&1 || die "node init ff-node2"
P2=$(gwf_free_port) && M2=$(gwf_free_port) || die "ports"
sed -e "s/^listen = .*/listen = 127.0.0.1:$P2/" \
    -e "s/^metrics_listen = .*/metrics_listen = 127.0.0.1:$M2/" \
    -e "s/^node_name = .*/node_name = ff-node2/" \
    -e "s|^signing_key_file = .*|signing_key_file = $GWF_DIR/node2.key|" \
    -e "s|^witness_file = .*|witness_file = $GWF_DIR/witness2.jsonl|" \
    "$GWF_CONF" >"$GWF_DIR/gw2.conf"
: >"$GWF_DIR/witness2.jsonl"
if [ "$(id -u)" -eq 0 ]; then
	chgrp "$(id -gn nobody)" "$GWF_DIR/node2.key" && chmod 0640 "$GWF_DIR/node2.key"
	chown nobody "$GWF_DIR/witness2.jsonl"
fi
"$GWF_GW" --config "$GWF_DIR/gw2.conf" --pidfile "$GWF_DIR/gw2.pid" >>"$GWF_DIR/gw2.log" 2>&1 &
GW2_PID=$!
i=0
until [ "$(gwf_curl ff-d1 -o /dev/null -w '%{http_code}' "https://127.0.0.1:$P2/healthz" 2>/dev/null)" = 200 ]; do
	i=$((i + 1))
	[ $i -lt 150 ] && kill -0 "$GW2_PID" 2>/dev/null || { tail -5 "$GWF_DIR/gw2.log"; die "gateway 2 did not start"; }
	sleep 0.1
done
ok "gateway 2 started (own node, own witness)"
GW1=${GWF_PID:-}
FF_PORTS="$GWF_PORT $P2"
FF_WITNESSES="$GWF_DIR/witness.jsonl $GWF_DIR/witness2.jsonl"
ff_load "$RECORDS" 83 25

# first_ack_after T: the first 200 for a request sent after wall-clock T
# (at most 120 s); prints the milliseconds from T to its answer
first_ack_after() { ff_first_ack_after sent "$1" 120 0.1; }

# ack_gap A B: the longest time (ms) without any acknowledgement between
# wall-clock A - 1 s and B: how long the failover kept the archive from
# acknowledging (the last acknowledgement by the old primary to the first
# by the new one)
ack_gap() {
	cat "$FF_DIR"/log.* | awk -v a="$1" -v b="$2" '$5 == 200 && $2 + 0 >= a - 1 && $2 + 0 <= b + 0 { print $2 }' |
	    sort -n | awk 'NR > 1 && $1 - p > g { g = $1 - p } { p = $1 } END { printf "%d\n", g * 1000 }'
}

: >"$FF_DIR/first_ms"
first_ack_after "$(ff_now)" >/dev/null || die "no acknowledgement before the first failover"
done_n=0
round=1
while [ "$round" -le "$FAILOVERS" ]; do
	ff_sleep_ms "$(ff_rand_ms 500 2000)"
	old=$(pf_leader)
	[ -n "$old" ] || { bad "round $round: no leader"; break; }
	if [ $((round % 2)) -eq 1 ]; then
		kind="host loss (kill -9)"
		t=$(ff_now)
		pf_kill "${old#pg}"
	else
		kind="switchover"
		sync=$(pf_cluster | awk '$2 == "sync_standby" { print $1; exit }')
		t=$(ff_now)
		pf_switchover "$old" "$sync" || { bad "round $round: switchover $old -> $sync"; break; }
	fi
	new=$(pf_wait_leader 120) || { bad "round $round: no new leader"; break; }
	check "round $round, $kind: $old -> $new" test "$new" != "$old"
	first_ack_after "$(ff_now)" >/dev/null ||
	    { bad "round $round: no acknowledgement within 120 s"; break; }
	done_n=$((done_n + 1))
	# the lost node comes back as a replica before the next round
	case "$kind" in host*) pf_start "${old#pg}" ;; esac
	pf_wait_members 3 180 && pf_wait_sync 60 || { bad "round $round: cluster did not heal"; break; }
	ack_gap "$t" "$(ff_now)" >>"$FF_DIR/first_ms"
	for wf in $FF_WITNESSES; do
		ff_verify "round $round" "$wf"
	done
	round=$((round + 1))
done
check "$done_n failovers done (wanted $FAILOVERS)" test "$done_n" -ge "$FAILOVERS"

# strict synchronous mode: no standby, no acknowledgement
leader=$(pf_leader)
for n in 1 2 3; do
	[ "pg$n" = "$leader" ] || pf_stop "$n"
done
t_gone=$(ff_now)
ff_sleep_ms 5000
t_back=$(ff_now)
for n in 1 2 3; do
	[ "pg$n" = "$leader" ] || pf_start "$n"
done
first_ack_after "$t_back" >/dev/null || bad "no acknowledgement after the standbys came back"
# Counted now (a request that waited on its COMMIT is logged when it is
# answered).  Attempts answered 200 from 1 s after both standbys were gone
# (a commit confirmed just before may still be on its way back) until
# they were started again: none.  Not vacuous: attempts were waiting
# (sent before, answered after the window) or refused during it.
acked=$(cat "$FF_DIR"/log.* | awk -v a="$t_gone" -v b="$t_back" '$2 + 0 >= a + 1 && $2 + 0 <= b + 0 && $5 == 200' | wc -l)
waited=$(cat "$FF_DIR"/log.* | awk -v a="$t_gone" -v b="$t_back" '($1 + 0 <= a + 1 && $2 + 0 >= b + 0) || ($2 + 0 >= a + 1 && $2 + 0 <= b + 0 && $5 != 200)' | wc -l)
check "no standby: attempts waiting or refused ($waited), none acknowledged ($acked) while no standby ran" \
    test "$acked" = 0 -a "$waited" -gt 0
pf_wait_members 3 180 || bad "standbys did not rejoin"

ff_sleep_ms 1500
ff_clients_stop 180
check "4 clients ended normally, each request answered 200 at last" test "$FF_CLIENTS_RC" = 0
check "same gateway processes throughout" test "$GWF_PID" = "$GW1" -a -n "$GW1"
check "gateway 2 still running" kill -0 "$GW2_PID"

ff_tally "$FF_NAME"
fig "$FF_NAME" "failovers (host loss and switchover)" "$done_n"
ff_fig_stats "$FF_NAME" "longest time without acknowledgement per failover (last by the old primary to first by the new)" "$FF_DIR/first_ms"
kill -TERM "$GW2_PID" 2>/dev/null
wait "$GW2_PID"
rc2=$?
check "gateway 2 stops cleanly on SIGTERM (exit $rc2)" test "$rc2" = 0
GW2_PID=""
ff_finish
