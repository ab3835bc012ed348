#!/bin/sh
# es-cluster's entrypoint for Elasticsearch 7+ and OpenSearch. Starts the engine in the
# foreground with our config template (the env es_cluster/engines/zen2.py sets fills it) and any
# arguments given (-Ekey=value). A master-eligible node gets the bootstrap setting only while the
# bootstrap ConfigMap lists the first masters, which the component does on a cluster's first
# deploy alone: a master restarted or replaced later never bootstraps a second cluster.
set -eu
engine=${ES_CLUSTER_ENGINE:?the image sets ES_CLUSTER_ENGINE}
# The engine's home in the image (ES_CLUSTER_HOME only for tests/unit/test_entrypoint.py).
home=${ES_CLUSTER_HOME:-/usr/share/$engine}
list=/etc/es-cluster/bootstrap/initial-masters
case "$engine" in
  opensearch) setting=cluster.initial_cluster_manager_nodes; master=cluster_manager ;;
  *) setting=cluster.initial_master_nodes; master=master ;;
esac
# node.roles from NODE_ROLES ("master,data", or none: a coordinating-only node), written into the
# config file's node.roles line as a YAML list, the one form every engine reads (the template
# says why). The roles are the component's, from a fixed set of names.
roles=${NODE_ROLES:-}
config=$home/config/$engine.yml
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
# OpenSearch (es_cluster/engines/opensearch.py): its security plugin, with the same certificates
# on both layers (hostname not checked on transport: the CA's signature, as above), nodes known
# by the node certificate's subject, and the users file linked from the mounted Secret. The
# plugin reads it into its security index when the cluster first forms, and watches the
# certificate files, reloading renewed ones. The settings go into the config file (a DN's
# commas would split an -E list) after a marker, rewritten at every start. An image with the
# plugin but security off (the official image) gets it disabled; without the plugin, a secured
# start stops here, saying so.
if [ "$engine" = opensearch ]; then
  plugin=$home/plugins/opensearch-security
  marker="# es-cluster: security settings (written by the entrypoint at start)"
  sed -i "/^$marker\$/,\$d" "$config"
  if [ "${ES_CLUSTER_SECURITY:-false}" = true ]; then
    if [ ! -d "$plugin" ]; then
      echo "es-cluster: security is on (security.enabled), but this image has no OpenSearch security plugin in $plugin:" \
        "use an image with it (the official one has it), or set security.enabled false" >&2
      exit 78
    fi
    ln -sfn "$home/config/es-cluster-file-realm/internal_users.yml" "$home/config/opensearch-security/internal_users.yml"
    http_tls=${ES_CLUSTER_HTTP_TLS:-true}
    {
      echo "$marker"
      for layer in transport http; do
        echo "plugins.security.ssl.$layer.pemcert_filepath: $certs/tls.crt"
        echo "plugins.security.ssl.$layer.pemkey_filepath: $certs/tls.key"
        echo "plugins.security.ssl.$layer.pemtrustedcas_filepath: $certs/ca.crt"
      done
      echo "plugins.security.ssl.transport.enforce_hostname_verification: false"
      echo "plugins.security.ssl.http.enabled: $http_tls"
      echo "plugins.security.ssl.certificates_hot_reload.enabled: true"
      echo "plugins.security.nodes_dn: [\"${ES_CLUSTER_NODES_DN:?es_cluster sets it when security is on}\"]"
      echo "plugins.security.allow_default_init_securityindex: true"
      echo "plugins.security.audit.type: noop"
    } >>"$config"
  elif [ -d "$plugin" ]; then
    set -- "$@" -Eplugins.security.disabled=true
  fi
fi
exec "$home/bin/$engine" "$@"
