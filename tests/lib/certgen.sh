# tests/lib/certgen.sh — hostile certificates and CRLs made with the
# openssl CLI, for tests that must show a verifier refusing each defect.
# POSIX sh; source it.  Every function returns 0 on success, non-zero with
# a message on stderr.
#
#   cg_init DIR           work directory $CG_DIR (created, 0700) and
#                         $CG_CLIENT_CNF: an OpenSSL configuration at
#                         security level 0, so that curl / s_client
#                         (OPENSSL_CONF=$CG_CLIENT_CNF) present weak
#                         certificates instead of refusing them locally —
#                         the server must be the one that refuses
#   cg_key NAME [TYPE]    $CG_DIR/NAME.key; TYPE ec (P-256, default),
#                         rsa1024 or rsa2048
#   cg_cert NAME SUBJECT ISSUER_CRT ISSUER_KEY PROFILE [openssl x509 args]
#                         $CG_DIR/NAME.crt signed by the issuer (key made
#                         if missing); ISSUER_CRT "self" for self-signed.
#                         PROFILE:
#                           client   CA:FALSE, KU digitalSignature,
#                                    EKU clientAuth (a good device)
#                           server   ... EKU serverAuth only
#                           kuenc    ... KU keyEncipherment only
#                           noeku    ... no extendedKeyUsage at all
#                           ca       CA:TRUE, KU keyCertSign cRLSign
#                           noca     no basicConstraints, KU keyCertSign
#                                    (an "intermediate" that is not a CA)
#                           cafalse  basicConstraints CA:FALSE, KU
#                                    keyCertSign (another non-CA issuer)
#                           cads     CA:TRUE, KU digitalSignature only,
#                                    EKU clientAuth (a CA posing as a
#                                    leaf: no keyCertSign, so OpenSSL's
#                                    X509_check_ca() says "not a CA")
#                         Extra args go to `openssl x509 -req`, e.g.
#                         -sha1 or -days 1.  Default: -days 30 -sha256.
#   cg_crl CA_CRT CA_KEY OUT LAST NEXT [REVOKED_CRT]...
#                         a CRL v2 (CRL number, AKI) issued by CA_CRT's
#                         subject and signed with CA_KEY: lastUpdate LAST,
#                         nextUpdate NEXT (YYYYMMDDHHMMSSZ), listing the
#                         given certificates as revoked
#   cg_utc SECONDS        YYYYMMDDHHMMSSZ of now + SECONDS (may be < 0)
#   cg_fpr CRT            lower-case hex SHA-256 of CRT's DER (the form the
#                         gateway logs and coffer.devices stores)

CG_DIR=""
CG_CLIENT_CNF=""

cg_err() {
	echo "certgen: $*" >&2
	return 1
}

cg_init() {
	CG_DIR=$1
	mkdir -p "$CG_DIR" && chmod 0700 "$CG_DIR" || { cg_err "mkdir $CG_DIR"; return 1; }
	CG_CLIENT_CNF="$CG_DIR/client-seclevel0.cnf"
	cat >"$CG_CLIENT_CNF" <<'EOF'
# certgen: a client that presents whatever it is given
openssl_conf = cg_conf
[cg_conf]
ssl_conf = cg_ssl
[cg_ssl]
system_default = cg_sys
[cg_sys]
CipherString = DEFAULT:@SECLEVEL=0
EOF
}

cg_key() {
	case "${2:-ec}" in
	ec) set -- "$1" -algorithm EC -pkeyopt ec_paramgen_curve:P-256 ;;
	rsa1024) set -- "$1" -algorithm RSA -pkeyopt rsa_keygen_bits:1024 ;;
	rsa2048) set -- "$1" -algorithm RSA -pkeyopt rsa_keygen_bits:2048 ;;
	*) cg_err "cg_key: unknown key type $2"; return 1 ;;
	esac
	n=$1
	shift
	openssl genpkey "$@" -out "$CG_DIR/$n.key" 2>"$CG_DIR/openssl.err" ||
	    { cat "$CG_DIR/openssl.err" >&2; cg_err "key $n"; return 1; }
	chmod 0600 "$CG_DIR/$n.key"
}

cg_profile() {
	leaf='basicConstraints=critical,CA:FALSE'
	case "$1" in
	client) printf '%s\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' "$leaf" ;;
	server) printf '%s\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' "$leaf" ;;
	kuenc)  printf '%s\nkeyUsage=critical,keyEncipherment\nextendedKeyUsage=clientAuth\n' "$leaf" ;;
	noeku)  printf '%s\nkeyUsage=critical,digitalSignature\n' "$leaf" ;;
	ca)     printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' ;;
	noca)   printf 'keyUsage=critical,keyCertSign,cRLSign\n' ;;
	cafalse) printf '%s\nkeyUsage=critical,keyCertSign,cRLSign\n' "$leaf" ;;
	cads)   printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' ;;
	*) cg_err "cg_cert: unknown profile $1"; return 1 ;;
	esac
	printf 'subjectKeyIdentifier=hash\n'
}

cg_cert() {
	n=$1 subj=$2 icrt=$3 ikey=$4 prof=$5
	shift 5
	[ -f "$CG_DIR/$n.key" ] || cg_key "$n" || return 1
	{ cg_profile "$prof" || return 1
	  [ "$icrt" = self ] || printf 'authorityKeyIdentifier=keyid:always\n'
	} >"$CG_DIR/$n.ext" || return 1
	openssl req -new -key "$CG_DIR/$n.key" -subj "$subj" \
	    -out "$CG_DIR/$n.csr" 2>"$CG_DIR/openssl.err" || {
		cat "$CG_DIR/openssl.err" >&2; cg_err "csr $n"; return 1; }
	if [ "$icrt" = self ]; then
		set -- -signkey "$CG_DIR/$n.key" "$@"
	else
		set -- -CA "$icrt" -CAkey "$ikey" "$@"
	fi
	openssl x509 -req -in "$CG_DIR/$n.csr" -set_serial "0x$(openssl rand -hex 16)" \
	    -days 30 -sha256 -extfile "$CG_DIR/$n.ext" -out "$CG_DIR/$n.crt" \
	    "$@" 2>"$CG_DIR/openssl.err" || {
		cat "$CG_DIR/openssl.err" >&2; cg_err "certificate $n"; return 1; }
}

cg_utc() {
	python3 -c 'import sys, time
print(time.strftime("%Y%m%d%H%M%SZ", time.gmtime(time.time() + int(sys.argv[1]))))' "$1"
}

cg_crl() {
	cacrt=$1 cakey=$2 out=$3 last=$4 next=$5
	shift 5
	d=$(mktemp -d "$CG_DIR/crl.XXXXXX") || return 1
	: >"$d/index.txt"
	echo 1000 >"$d/crlnumber"
	cat >"$d/ca.cnf" <<EOF
[ca]
default_ca = cg
[cg]
database = $d/index.txt
crlnumber = $d/crlnumber
default_md = sha256
crl_extensions = cg_crl_ext
[cg_crl_ext]
authorityKeyIdentifier = keyid:always
EOF
	for c in "$@"; do
		openssl ca -config "$d/ca.cnf" -cert "$cacrt" -keyfile "$cakey" \
		    -revoke "$c" -crl_reason keyCompromise 2>"$d/err" >/dev/null || {
			cat "$d/err" >&2; cg_err "revoke $c"; return 1; }
	done
	openssl ca -config "$d/ca.cnf" -cert "$cacrt" -keyfile "$cakey" -gencrl \
	    -crl_lastupdate "$last" -crl_nextupdate "$next" -out "$out" \
	    2>"$d/err" >/dev/null || { cat "$d/err" >&2; cg_err "CRL $out"; return 1; }
	rm -rf "$d"
}

cg_fpr() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 |
	    sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'
}
