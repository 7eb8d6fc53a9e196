# tests/lib/archive-fixture.sh — an archive written by the real
# coffer-gateway, for the verify, retention and purge tests.  POSIX sh;
# source it after tests/lib/gateway-fixture.sh, inside tests/pg-harness.sh.
#
# Two gateway nodes (gw-a, gw-b) run one after the other against the same
# database; small batches and epochs make many of both.  Each node appends
# its checkpoints to its own witness file.
#
# Streams: each node runs `workers` writer lanes (gateway default 2), and
# every lane keeps its own stream, seqs and current epoch per tenant
# (gateway/writer.h), so a tenant has NODES x LANES streams.  A record goes
# to the lane picked by its dedup token, a keyed hash of its id: which lane,
# and so which seq and epoch a record gets, is NOT known in advance.  What
# is known: a lane's seqs start at 1 and follow arrival order, each request
# is stored before the next is sent, every node restart starts a new epoch
# in every lane, and per (tenant, node) the counts below are exact.  Tests
# derive seq- and epoch-dependent expectations from the database.
#
#   af_setup                 PKI, tenants acme, globex, initech (device
#                            phone-1 each), nodes gw-a and gw-b
#   af_ingest PHASE [N]      N (default 30) records per tenant through each
#                            node, over mutual TLS with curl.  Phases 1
#                            and 3 are RECEIVED 400 days ago (the gateway
#                            runs under libfaketime at -400d: retention
#                            runs on the archive's clock, the later of
#                            received_at and sent_at); other phases now.
#                            Record k
#                            (0-based) of phase 1: sent_at 400 days ago for
#                            k < N/2, 2 days ago up to N-4, 30 days AHEAD for
#                            the last three; phase 3 (a backfill of old
#                            messages): all 400 days ago; any other phase:
#                            an hour ago.  Channel k % 5 of signal,
#                            whatsapp, telegram, sms, email.  k == 13 and
#                            k == 20 are in conversation "conv-held" with
#                            participant +15559990000.  Epochs hold 12
#                            records, batches at most 8 (per lane).
#   af_ctl VERB ARGS...      cofferctl VERB, or the in-process stand-in
#                            (itest_verify --ctl) while cofferctl does not
#                            have the verb yet; $AF_WRAP (e.g. a gwf_clock_wrap "-"
#                            prefix) is put in front of the command
#
# Variables: AF_W_A, AF_W_B (witness files), AF_KEYS (BIK directory).

AF_NODES="gw-a gw-b"
AF_TENANTS="acme globex initech"

af_ctl() {
	if "$GWF_CTL" help 2>/dev/null | grep -q "^  $1 "; then
		${AF_WRAP:-} "$GWF_CTL" "$@"
	else
		${AF_WRAP:-} "$GWF_BUILD/tests/itest_verify" --ctl "$@"
	fi
}

# The PKI, tenants and nodes are made 401 days ago, with certificates that
# reach past today, so that they are good on the gateway's clock in every
# phase; each phase re-signs the tenants' CRLs on its own clock.
AF_PAST=-400d

af_setup() {
	AF_REAL_CTL=$GWF_CTL
	AF_REAL_GW=$GWF_GW
	# The gateway's libfaketime reads this file on every clock call, in
	# the network process too, whose Landlock ruleset lets it read
	# device_ca_dir and not the scratch directory: a hidden entry there
	# (the CA loader skips those).
	mkdir -p "$COFFER_PKI/devices" || return 1
	AF_TSF="$COFFER_PKI/devices/.gw-clock"
	echo "+0" >"$AF_TSF" && chmod 0644 "$AF_TSF" || return 1
	gwf_clock_wrap "$AF_REAL_CTL" "$GWF_DIR/ctl-setup" -401d &&
	    gwf_clock_wrap "$AF_REAL_CTL" "$GWF_DIR/ctl-past" "$AF_PAST" &&
	    gwf_clock_wrap "$AF_REAL_GW" "$GWF_DIR/gw-clocked" "@$AF_TSF" ||
	    return 1
	GWF_CTL="$GWF_DIR/ctl-setup"
	# shellcheck disable=SC2034  # read by gwf_server_cert (gateway-fixture.sh)
	GWF_CERT_DAYS=800
	gwf_server_cert || return 1
	for t in $AF_TENANTS; do
		gwf_tenant "$t" || return 1
		gwf_device "$t" "phone-$t" || return 1
	done
	for n in $AF_NODES; do
		gwf_node "$n" || return 1
		mv "$GWF_DIR/node.key" "$GWF_DIR/$n.key" || return 1
	done
	GWF_CTL=$AF_REAL_CTL
	GWF_GW="$GWF_DIR/gw-clocked"
	unset GWF_CERT_DAYS
	AF_W_A="$GWF_DIR/witness-gw-a.jsonl"
	AF_W_B="$GWF_DIR/witness-gw-b.jsonl"
	# shellcheck disable=SC2034  # for the scripts that source this file
	AF_KEYS=$GWF_KEYS
	: >"$AF_W_A"
	: >"$AF_W_B"
	if [ "$(id -u)" -eq 0 ]; then
		chown nobody "$AF_W_A" "$AF_W_B"
	fi
}

# af_body TENANT PHASE N NODE -> NDJSON on stdout
af_body() {
	python3 - "$1" "$2" "$3" "$4" <<'EOF'
import json, sys, time
tenant, phase, n, node = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
now = time.time()
chans = ["signal", "whatsapp", "telegram", "sms", "email"]
def ts(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)
for k in range(n):
    if phase == 1:
        if k >= n - 3:
            t = now + 30 * 86400
        elif k < n // 2:
            t = now - 400 * 86400 + k
        else:
            t = now - 2 * 86400 + k
    elif phase == 3:
        t = now - 400 * 86400 + k
    else:
        t = now - 3600 + k
    held = k in (13, 20)
    rec = {
        "id": "%s-%s-%d-%d" % (tenant, node, phase, k),
        "channel": chans[k % 5],
        "conversation": "conv-held" if held else "conv-%d" % (k % 4),
        "direction": "out" if k % 2 else "in",
        "sender": "+15559990000" if held else "+1555123%04d" % k,
        "recipients": ["+1555124%04d" % (k % 7), "alice@example.com"],
        "sent_at": ts(t),
        "body": "message %d of %s via %s, phase %d" % (k, tenant, node, phase),
    }
    if k % 6 == 0:
        rec["attachments"] = [{"name": "a.txt", "type": "text/plain",
                               "data": "aGVsbG8gd29ybGQ="}]
    print(json.dumps(rec))
EOF
}

af_ingest() {
	phase=$1
	n=${2:-30}
	case $phase in
	1|3) echo "$AF_PAST" >"$AF_TSF"; af_crl_ctl="$GWF_DIR/ctl-past" ;;
	*)   echo "+0" >"$AF_TSF"; af_crl_ctl=$AF_REAL_CTL ;;
	esac
	for t in $AF_TENANTS; do
		gwf_run "crl-refresh $t" "$af_crl_ctl" pki crl-refresh --tenant "$t" ||
		    return 1
	done
	for node in $AF_NODES; do
		w="$GWF_DIR/witness-$node.jsonl"
		gwf_config "node_name = $node" \
		    "signing_key_file = $GWF_DIR/$node.key" \
		    "witness_file = $w" \
		    "batch_max_records = 8" \
		    "epoch_records = 12" || return 1
		if [ "$(id -u)" -eq 0 ]; then
			chgrp "$(id -gn nobody)" "$GWF_DIR/$node.key" &&
			    chmod 0640 "$GWF_DIR/$node.key" || return 1
		fi
		gwf_start "phone-acme" || return 1
		for t in $AF_TENANTS; do
			af_body "$t" "$phase" "$n" "$node" >"$GWF_DIR/body.ndjson" ||
			    return 1
			gwf_curl "phone-$t" -o "$GWF_DIR/resp.ndjson" \
			    -w '%{http_code}' -X POST \
			    -H 'Content-Type: application/x-ndjson' \
			    --data-binary @"$GWF_DIR/body.ndjson" \
			    "$(gwf_url v1/records)" >"$GWF_DIR/code" || return 1
			stored=$(grep -c '"status":"stored"' "$GWF_DIR/resp.ndjson")
			if [ "$(cat "$GWF_DIR/code")" != 200 ] || [ "$stored" -ne "$n" ]; then
				echo "archive-fixture: $t via $node: HTTP $(cat "$GWF_DIR/code"), $stored of $n stored" >&2
				head -3 "$GWF_DIR/resp.ndjson" >&2
				return 1
			fi
		done
		gwf_stop || return 1
	done
}
