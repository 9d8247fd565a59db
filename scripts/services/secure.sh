# shellcheck shell=bash
# Secure listeners for the local services, sourced by services.sh: a throw-away certificate
# authority with a server and a client certificate (made with openssl at the first start, under the
# run dir, never committed), a Kafka TLS listener that requires a client certificate, a Kafka
# SASL_SSL listener with PLAIN and SCRAM-SHA-256/512 users, a Redis TLS port and an HTTPS port of
# the schema registry. The plaintext
# ports stay as they were: the other tests and the readiness probes use them.

# Defaults follow the plaintext ports (19094/19095, 16391 and 18443 with the default ones), so a run
# that moves its plaintext ports to stay clear of another run moves these with them.
KAFKA_TLS_PORT="${CHURNFLOW_KAFKA_TLS_PORT:-$((KAFKA_PORT + 2))}"
KAFKA_SASL_PORT="${CHURNFLOW_KAFKA_SASL_PORT:-$((KAFKA_PORT + 3))}"
REDIS_TLS_PORT="${CHURNFLOW_REDIS_TLS_PORT:-$((REDIS_PORT + 1))}"
REGISTRY_TLS_PORT="${CHURNFLOW_REGISTRY_TLS_PORT:-$((REGISTRY_PORT + 362))}"
# The SASL user every mechanism knows; its password is generated once per run dir (tls/sasl-password).
SASL_USER="${CHURNFLOW_KAFKA_SASL_USER:-churnflow}"

tls_dir() { printf '%s/tls\n' "$RUN_DIR"; }

# tls_certs: CA, server (SAN 127.0.0.1 and localhost) and client certificates, each valid 30 days;
# remade when missing or expiring within a day. Private keys are PKCS#8 PEM, unencrypted, mode 600.
tls_certs() {
  local d; d="$(tls_dir)"
  if [[ -f "$d/ca.pem" && -f "$d/client.pem" ]] && openssl x509 -checkend 86400 -noout -in "$d/server.pem" >/dev/null 2>&1; then
    return 0
  fi
  command -v openssl >/dev/null 2>&1 || die "openssl not found (needed to make the test certificates; apt-get install -y openssl)"
  rm -rf "$d.tmp"; mkdir -p "$d.tmp"; chmod 700 "$d.tmp"
  (
    cd "$d.tmp"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj '/CN=churnflow test CA' \
      -keyout ca-key.pem -out ca.pem \
      -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' >/dev/null 2>&1
    local who
    for who in server client; do
      openssl req -newkey rsa:2048 -nodes -subj "/CN=churnflow-${who}" -keyout "${who}-key.pem" -out "${who}.csr" >/dev/null 2>&1
      local ext
      if [[ "$who" == server ]]; then ext='subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth'; else ext='extendedKeyUsage=clientAuth'; fi
      printf '%s\n' "$ext" >"${who}.ext"
      openssl x509 -req -in "${who}.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 \
        -extfile "${who}.ext" -out "${who}.pem" >/dev/null 2>&1
      rm -f "${who}.csr" "${who}.ext"
    done
    # A second, unrelated CA: tests use it to check that a wrong CA is refused.
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj '/CN=churnflow other CA' \
      -keyout other-ca-key.pem -out other-ca.pem >/dev/null 2>&1
    # Kafka's PEM keystore: the private key and its certificate chain in one file.
    cat server-key.pem server.pem ca.pem >kafka-keystore.pem
    head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >sasl-password
  ) || die "tls: making the test certificates with openssl failed"
  [[ -s "$d.tmp/server.pem" && -s "$d.tmp/client.pem" && -s "$d.tmp/sasl-password" ]] || die "tls: openssl left no certificates in $d.tmp"
  rm -rf "$d"; mv "$d.tmp" "$d"
  log "tls: made a test CA with server and client certificates in $d"
}

sasl_password() { cat "$(tls_dir)/sasl-password"; }

# Lines appended to server.properties (the listeners line itself is built by kafka_listeners).
kafka_secure_properties() {
  local d pw; d="$(tls_dir)"; pw="$(sasl_password)"
  cat <<EOF
# TLS (client certificate required) and SASL_SSL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512): scripts/services/secure.sh
ssl.keystore.type=PEM
ssl.keystore.location=${d}/kafka-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=${d}/ca.pem
ssl.endpoint.identification.algorithm=https
listener.name.ssl.ssl.client.auth=required
listener.name.sasl_ssl.ssl.client.auth=none
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${SASL_USER}="${pw}";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
EOF
}

kafka_secure_listeners() { printf 'SSL://127.0.0.1:%s,SASL_SSL://127.0.0.1:%s' "$KAFKA_TLS_PORT" "$KAFKA_SASL_PORT"; }

# SCRAM credentials are metadata records in KRaft: StorageTool writes them at format time.
kafka_scram_format_args() {
  local pw; pw="$(sasl_password)"
  printf '%s\n' --add-scram "SCRAM-SHA-256=[name=${SASL_USER},password=${pw}]" --add-scram "SCRAM-SHA-512=[name=${SASL_USER},password=${pw}]"
}

# Part of the format stamp: new users or a new password re-format the (test) storage.
kafka_secure_stamp() { printf 'scram=%s:%s' "$SASL_USER" "$(sasl_password | sha256sum | cut -c1-16)"; }

redis_tls_args() {
  local d; d="$(tls_dir)"
  # optional: a client may present a certificate (checked against the CA) or not.
  printf '%s\n' --tls-port "$REDIS_TLS_PORT" --tls-cert-file "$d/server.pem" --tls-key-file "$d/server-key.pem" \
    --tls-ca-cert-file "$d/ca.pem" --tls-auth-clients optional
}

# Not CHURNFLOW_KAFKA_* config variables: evaluating this env must leave an engine on the plaintext ports.
# Quarkus serves HTTPS beside HTTP when given a PEM certificate and key.
registry_tls_args() {
  local d; d="$(tls_dir)"
  printf '%s\n' "-Dquarkus.http.ssl-port=${REGISTRY_TLS_PORT}" "-Dquarkus.http.ssl.certificate.files=${d}/server.pem" \
    "-Dquarkus.http.ssl.certificate.key-files=${d}/server-key.pem" -Dquarkus.http.insecure-requests=enabled
}

print_secure_env() {
  local d; d="$(tls_dir)"
  cat <<EOF
export CHURNFLOW_SERVICES_KAFKA_TLS_BROKERS=127.0.0.1:${KAFKA_TLS_PORT}
export CHURNFLOW_SERVICES_KAFKA_SASL_BROKERS=127.0.0.1:${KAFKA_SASL_PORT}
export CHURNFLOW_SERVICES_KAFKA_SASL_USER=${SASL_USER}
export CHURNFLOW_SERVICES_REDIS_TLS_URL=rediss://127.0.0.1:${REDIS_TLS_PORT}
export CHURNFLOW_SERVICES_SCHEMA_REGISTRY_TLS_URL=https://127.0.0.1:${REGISTRY_TLS_PORT}/apis/ccompat/v7
export CHURNFLOW_SERVICES_TLS_DIR=${d}
EOF
}
