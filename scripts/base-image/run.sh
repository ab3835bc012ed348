#!/bin/sh
# Starts Elasticsearch 2.3.4 the way the pires image does: as root, give /data to the
# elasticsearch user, raise the memlock limit for bootstrap.mlockall where the container may,
# then drop to that user (ES 2.x refuses to run as root). Started as a non-root user, it runs ES
# directly. ES_GC_OPTS is emptied: the start script's CMS/ParNew flags do not exist on Java 17.
set -e
export ES_GC_OPTS="${ES_GC_OPTS:- }"
ulimit -l unlimited 2>/dev/null || echo "run.sh: cannot raise the memlock limit; mlockall will not take effect" >&2
if [ "$(id -u)" = 0 ]; then
  mkdir -p /data
  chown -R elasticsearch:elasticsearch /data
  exec setpriv --reuid=elasticsearch --regid=elasticsearch --init-groups /elasticsearch/bin/elasticsearch "$@"
fi
exec /elasticsearch/bin/elasticsearch "$@"
