#!/bin/sh
# Makes throwaway certificates for tests and for trying TLS out (never for
# production: the keys are unprotected and the CA is thrown away).
#
#   scripts/gen-test-certs.sh DIR [EXTRA_SANS]
#
# EXTRA_SANS: more subjectAltName entries for the server and peer
# certificates, comma-separated, e.g. "DNS:node1,DNS:node2,DNS:node3" for
# the Docker compose cluster.  127.0.0.1, ::1 and localhost are always in.
#
# Writes into DIR (created if needed), each key next to its certificate as
# NAME-key.pem:
#   ca.pem              the test CA (trusted_ca_file, --cacert)
#   foreign-ca.pem      a second CA that signs nothing the cluster trusts
#   server.pem          client port certificate (serverAuth), signed by ca
#   peer.pem            peer port certificate (serverAuth + clientAuth: a
#                       member is the server of the connections it accepts
#                       and the client of the ones it dials), signed by ca
#   client.pem          a client certificate (clientAuth), signed by ca
#   foreign-peer.pem    like peer.pem but signed by foreign-ca
#   foreign-client.pem  like client.pem but signed by foreign-ca
#   expired-client.pem  like client.pem but expired since 2020
# KEY_MODE (default 0600) sets the mode of the key files; the Docker
# compose example needs 0644 so that the container user can read them.
# Certificates are valid for 30 days.  Needs the openssl command line
# (Debian package openssl); exits 2 when it is missing.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 DIR [EXTRA_SANS]" >&2
    exit 64
fi
if ! command -v openssl >/dev/null 2>&1; then
    echo "gen-test-certs: the openssl command is not installed (apt-get install openssl)" >&2
    exit 2
fi
dir=$1
sans="IP:127.0.0.1,IP:::1,DNS:localhost${2:+,$2}"
mkdir -p "$dir"
cd "$dir"
umask 077

quiet() { # runs a command, showing its output only when it fails
    if ! out=$("$@" 2>&1); then
        printf '%s\n' "$out" >&2
        echo "gen-test-certs: failed: $*" >&2
        exit 1
    fi
}

newkey() { # P-256 keys: quick to make, small handshakes
    quiet openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$1"
}

make_ca() { # name, common name
    newkey "$1-key.pem"
    quiet openssl req -x509 -new -key "$1-key.pem" -subj "/CN=$2" -days 30 \
        -sha256 -out "$1.pem" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign"
}

make_leaf() { # name, common name, signing CA, extendedKeyUsage, SANs ("" none)
    newkey "$1-key.pem"
    quiet openssl req -new -key "$1-key.pem" -subj "/CN=$2" -out "$1.csr"
    {
        echo "basicConstraints=CA:FALSE"
        echo "keyUsage=critical,digitalSignature,keyEncipherment"
        echo "extendedKeyUsage=$4"
        if [ -n "$5" ]; then echo "subjectAltName=$5"; fi
    } >"$1.ext"
    quiet openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3-key.pem" \
        -CAcreateserial -days 30 -sha256 -extfile "$1.ext" -out "$1.pem"
    rm -f "$1.csr" "$1.ext"
}

# An expired certificate: `openssl x509` cannot back-date, `openssl ca` can.
make_expired() { # name, common name, signing CA
    newkey "$1-key.pem"
    quiet openssl req -new -key "$1-key.pem" -subj "/CN=$2" -out "$1.csr"
    db=$(mktemp -d ./ca-db.XXXXXX)
    : >"$db/index.txt"
    echo 1000 >"$db/serial"
    cat >"$db/ca.cnf" <<EOF
[ca]
default_ca = test_ca
[test_ca]
database = $db/index.txt
serial = $db/serial
new_certs_dir = $db
certificate = $3.pem
private_key = $3-key.pem
default_md = sha256
policy = any_cn
[any_cn]
commonName = supplied
[leaf]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
EOF
    quiet openssl ca -batch -notext -config "$db/ca.cnf" -extensions leaf \
        -startdate 20200101000000Z -enddate 20200102000000Z \
        -in "$1.csr" -out "$1.pem"
    rm -rf "$db" "$1.csr"
}

make_ca ca "MetaStore-C test CA"
make_ca foreign-ca "Foreign test CA"
make_leaf server "metastore server" ca serverAuth "$sans"
make_leaf peer "metastore member" ca "serverAuth,clientAuth" "$sans"
make_leaf client "metastore client" ca clientAuth ""
make_leaf foreign-peer "foreign member" foreign-ca "serverAuth,clientAuth" "$sans"
make_leaf foreign-client "foreign client" foreign-ca clientAuth ""
make_expired expired-client "expired client" ca
rm -f ./*.srl
# Readable by the user only, but the certificates may be shared.
chmod 0644 ./*.pem
chmod "${KEY_MODE:-0600}" ./*-key.pem
echo "gen-test-certs: certificates in $(pwd)"
