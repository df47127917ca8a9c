#!/bin/bash
# A private MIT Kerberos realm EXAMPLE.TEST on 127.0.0.1:$KDC_PORT for the Kerberos tests (no DNS, nothing in /etc).
# usage: KDC_PORT=NNNN scripts/kdc-start.sh WORKDIR   -> WORKDIR/{krb5.conf,kdc.conf,http.keytab,alice.keytab,env.sh,kdc.pid}
# Principals: alice, bob (password Passw0rd!, pre-auth required), HTTP/localhost, HTTP/127.0.0.1, host/localhost
# (random keys, ok-as-delegate). Stop: kill "$(cat WORKDIR/kdc.pid)".
# Cross-realm: REALM=OTHER.TEST (default EXAMPLE.TEST; the domain is its lower case), TRUST_REALMS="EXAMPLE.TEST"
# adds krbtgt/OTHER.TEST@EXAMPLE.TEST and krbtgt/EXAMPLE.TEST@OTHER.TEST (password $TRUST_PASSWORD, the same in both
# KDCs), DOMAIN_REALM_EXTRA=".other.test = OTHER.TEST" maps hosts to another realm (the KDC then answers referrals).
set -euo pipefail
W=${1:?usage: kdc-start.sh WORKDIR}
PORT=${KDC_PORT:-8888}
REALM=${REALM:-EXAMPLE.TEST}
DOMAIN=$(echo "$REALM" | tr 'A-Z' 'a-z')
[ -s "$W/kdc.pid" ] && kill "$(cat "$W/kdc.pid")" 2>/dev/null || true
rm -rf "$W"; mkdir -p "$W"
cat > "$W/krb5.conf" <<EOC
[libdefaults]
  default_realm = $REALM
  dns_lookup_kdc = false
  dns_lookup_realm = false
  dns_canonicalize_hostname = false
  rdns = false
  forwardable = true
  udp_preference_limit = ${UDP_LIMIT:-1}
  default_ccache_name = FILE:$W/ccache
  ${KRB5_LIBDEFAULTS_EXTRA:-}
[realms]
  $REALM = {
    kdc = 127.0.0.1:$PORT
  }
[domain_realm]
  localhost = $REALM
  .$DOMAIN = $REALM
  ${DOMAIN_REALM_EXTRA:-}
EOC
cat > "$W/kdc.conf" <<EOC
[kdcdefaults]
  kdc_listen = 127.0.0.1:$PORT
  kdc_tcp_listen = 127.0.0.1:$PORT
[realms]
  $REALM = {
    database_name = $W/principal
    key_stash_file = $W/stash
    acl_file = $W/kadm5.acl
    max_life = 10h 0m 0s
    max_renewable_life = 7d 0h 0m 0s
    supported_enctypes = ${ENCTYPES:-aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal aes256-cts-hmac-sha384-192:normal aes128-cts-hmac-sha256-128:normal}
    default_principal_flags = +forwardable
  }
[logging]
  kdc = FILE:$W/kdc.log
EOC
: > "$W/kadm5.acl"
export KRB5_CONFIG=$W/krb5.conf KRB5_KDC_PROFILE=$W/kdc.conf
kdb5_util create -s -r $REALM -P masterpassword >/dev/null 2>&1
kadmin.local -q "addprinc +requires_preauth -pw Passw0rd! alice" >/dev/null 2>&1
kadmin.local -q "addprinc +requires_preauth -pw Passw0rd! bob" >/dev/null 2>&1
kadmin.local -q "addprinc -randkey +ok_as_delegate HTTP/localhost" >/dev/null 2>&1
kadmin.local -q "addprinc -randkey +ok_as_delegate HTTP/127.0.0.1" >/dev/null 2>&1
kadmin.local -q "addprinc -randkey +ok_as_delegate host/localhost" >/dev/null 2>&1
kadmin.local -q "ktadd -k $W/http.keytab HTTP/localhost HTTP/127.0.0.1" >/dev/null 2>&1
kadmin.local -q "ktadd -k $W/host.keytab host/localhost" >/dev/null 2>&1
kadmin.local -q "ktadd -norandkey -k $W/alice.keytab alice" >/dev/null 2>&1
for T in ${TRUST_REALMS:-}; do
  kadmin.local -q "addprinc -pw ${TRUST_PASSWORD:-Cr0ssRealm!} krbtgt/$T@$REALM" >/dev/null 2>&1
  kadmin.local -q "addprinc -pw ${TRUST_PASSWORD:-Cr0ssRealm!} krbtgt/$REALM@$T" >/dev/null 2>&1
done
krb5kdc -P "$W/kdc.pid"
for _ in $(seq 1 50); do [ -s "$W/kdc.pid" ] && break; sleep 0.1; done
cat > "$W/env.sh" <<EOC
export KRB5_CONFIG=$W/krb5.conf
export KRB5_KDC_PROFILE=$W/kdc.conf
export KRB5CCNAME=FILE:$W/ccache
export KRB5_KTNAME=FILE:$W/http.keytab
export KRB5_CLIENT_KTNAME=FILE:$W/alice.keytab
EOC
echo "KDC pid $(cat "$W/kdc.pid") on 127.0.0.1:$PORT"
