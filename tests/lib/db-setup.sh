# tests/lib/db-setup.sh — what a test database `coffer` gets beyond its
# migrations, the same for tests/pg-harness.sh (the template every test
# database is cloned from) and tests/lib/patroni-fixture.sh (pf_setup_db,
# on the replicated cluster).  POSIX sh; needs $BUILD (cofferctl) and the
# connection in the environment (PGHOST, PGPORT, PGDATABASE, PGUSER the
# superuser).
#
#   dbs_roles_signers DIR NAME PSQL...
#       the login roles gw, api, auditor, purger (members of coffer_gateway,
#       coffer_api, coffer_verify, coffer_purge), created with PSQL... (a
#       psql command line); then the audit signers (issue 13.5): nodes
#       NAME-ctl (kind ctl, signs for cofferctl) and NAME-purge (kind purge),
#       keys in DIR (made, mode 0700), pins in DIR/nodes.pins.  The ctl
#       signer signs the audit event of the purge node's init.  Exports
#       COFFER_BASE_PINS (tests with their own pins file start it from
#       this one), COFFER_AUDIT_KEY/NODE, COFFER_PURGE_KEY/NODE.  On a
#       failure: the step's output on stderr, $DBS_ERR names the step
#       ("login roles", "audit node K"), returns 1.

dbs_roles_signers() {
	dbs_dir=$1
	dbs_name=$2
	shift 2
	DBS_ERR=""
	"$@" <<'SQL' || { DBS_ERR="login roles"; return 1; }
CREATE ROLE gw      LOGIN IN ROLE coffer_gateway;
CREATE ROLE api     LOGIN IN ROLE coffer_api;
CREATE ROLE auditor LOGIN IN ROLE coffer_verify;
CREATE ROLE purger  LOGIN IN ROLE coffer_purge;
SQL
	mkdir -p "$dbs_dir" && chmod 0700 "$dbs_dir"
	COFFER_BASE_PINS="$dbs_dir/nodes.pins"
	export COFFER_BASE_PINS
	for k in ctl purge; do
		if ! "$BUILD/cofferctl" node init --kind "$k" --name "$dbs_name-$k" \
		    --key-out "$dbs_dir/$k.key" --pins "$COFFER_BASE_PINS" \
		    >"$dbs_dir/$k.out" 2>&1; then
			cat "$dbs_dir/$k.out" >&2
			# shellcheck disable=SC2034  # read by the caller
			DBS_ERR="audit node $k"
			return 1
		fi
		# the ctl signer signs the audit event of the next node init
		if [ "$k" = ctl ]; then
			COFFER_AUDIT_KEY="$dbs_dir/ctl.key" COFFER_AUDIT_NODE=$dbs_name-ctl
			export COFFER_AUDIT_KEY COFFER_AUDIT_NODE
		fi
	done
	COFFER_PURGE_KEY="$dbs_dir/purge.key" COFFER_PURGE_NODE=$dbs_name-purge
	export COFFER_PURGE_KEY COFFER_PURGE_NODE
	return 0
}
