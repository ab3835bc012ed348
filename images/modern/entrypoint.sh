#!/bin/sh
# es-cluster's entrypoint for Elasticsearch 7+ and OpenSearch. Starts the engine in the
# foreground with our config template (the env es_cluster/engines/zen2.py sets fills it) and any
# arguments given (-Ekey=value). A master-eligible node gets the bootstrap setting only while the
# bootstrap ConfigMap lists the first masters, which the component does on a cluster's first
# deploy alone: a master restarted or replaced later never bootstraps a second cluster.
set -eu
engine=${ES_CLUSTER_ENGINE:?the image sets ES_CLUSTER_ENGINE}
list=/etc/es-cluster/bootstrap/initial-masters
case "$engine" in
  opensearch) setting=cluster.initial_cluster_manager_nodes; master=cluster_manager ;;
  *) setting=cluster.initial_master_nodes; master=master ;;
esac
# node.roles from NODE_ROLES ("master,data", or none: a coordinating-only node), written into the
# config file's node.roles line as a YAML list, the one form every engine reads (the template
# says why). The roles are the component's, from a fixed set of names.
roles=${NODE_ROLES:-}
config=/usr/share/$engine/config/$engine.yml
sed -i "s/^node\.roles:.*/node.roles: [$roles]/" "$config"
case ",$roles," in
  *",$master,"*)
    if [ -s "$list" ]; then
      echo "es-cluster: first deploy: $setting=$(cat "$list")" >&2
      set -- "$@" "-E$setting=$(cat "$list")"
    fi
    ;;
esac
# Security (Elasticsearch: es_cluster/engines/zen2.py sets these from security.*): TLS on
# transport with the cluster's CA, verified to `certificate` (the CA's signature; every node
# presents the same certificate), and on HTTP unless turned off; the elastic superuser in the
# file realm, whose files are links into the mounted Secret, so a changed password reaches the
# node, which reloads them (the reserved realm's own elastic user is turned off, as in ECK).
# The certificate files are read where the Secret is mounted, and reloaded when renewed.
home=/usr/share/$engine
certs=$home/config/certs
if [ "$engine" = elasticsearch ]; then
  if [ "${ES_CLUSTER_SECURITY:-false}" = true ]; then
    for f in users users_roles; do
      ln -sfn "$home/config/es-cluster-file-realm/$f" "$home/config/$f"
    done
    set -- "$@" -Expack.security.enabled=true -Expack.security.authc.reserved_realm.enabled=false \
      -Expack.security.transport.ssl.enabled=true -Expack.security.transport.ssl.verification_mode=certificate \
      "-Expack.security.transport.ssl.key=$certs/tls.key" "-Expack.security.transport.ssl.certificate=$certs/tls.crt" \
      "-Expack.security.transport.ssl.certificate_authorities=$certs/ca.crt"
    if [ "${ES_CLUSTER_HTTP_TLS:-true}" = true ]; then
      set -- "$@" -Expack.security.http.ssl.enabled=true \
        "-Expack.security.http.ssl.key=$certs/tls.key" "-Expack.security.http.ssl.certificate=$certs/tls.crt" \
        "-Expack.security.http.ssl.certificate_authorities=$certs/ca.crt"
    else
      set -- "$@" -Expack.security.http.ssl.enabled=false
    fi
  else
    set -- "$@" -Expack.security.enabled=false
  fi
fi
exec "$home/bin/$engine" "$@"
