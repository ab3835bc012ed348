package local.escluster.discovery;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.AccessController;
import java.security.PrivilegedActionException;
import java.security.PrivilegedExceptionAction;
import java.util.Base64;
import java.util.Collections;
import java.util.Map;

import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLSocketFactory;

import org.elasticsearch.SpecialPermission;
import org.elasticsearch.common.logging.ESLogger;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.xcontent.XContentFactory;
import org.elasticsearch.common.xcontent.XContentParser;
import org.elasticsearch.common.xcontent.XContentType;

/**
 * A read-only client of the Kubernetes API server, authenticated as the fabric8 client of the
 * field report was: with the pod's service-account token and CA; or, with
 * {@code KUBERNETES_AUTH_TRYKUBECONFIG=true} and {@code KUBECONFIG} set, with that kubeconfig
 * file (its current context's server, CA, and token or client certificate). A kubeconfig that
 * cannot be read (the security manager denies it without a java.policy grant) is logged, and
 * the service account is used instead.
 */
final class ApiServerClient {
    /** Where the pod's token and CA are; a setting only so that tests can move it. */
    static final String SERVICE_ACCOUNT_DIR = "cloud.kubernetes.service_account_dir";
    static final String DEFAULT_SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

    private final Settings settings;
    private final ESLogger logger;
    private volatile String lastSource = "nothing yet";

    ApiServerClient(Settings settings, ESLogger logger) {
        this.settings = settings;
        this.logger = logger;
    }

    /** Which credentials the last request used, for the log. */
    String describe() {
        return lastSource;
    }

    /** GET {@code path} from the API server and parse the JSON body. */
    Map<String, Object> get(final String path) throws Exception {
        SecurityManager sm = System.getSecurityManager();
        if (sm != null) {
            sm.checkPermission(new SpecialPermission());
        }
        try {
            return AccessController.doPrivileged(new PrivilegedExceptionAction<Map<String, Object>>() {
                @Override
                public Map<String, Object> run() throws Exception {
                    return request(credentials(), path);
                }
            });
        } catch (PrivilegedActionException e) {
            throw e.getException();
        }
    }

    private Credentials credentials() throws Exception {
        String kubeconfig = System.getenv("KUBECONFIG");
        if ("true".equalsIgnoreCase(System.getenv("KUBERNETES_AUTH_TRYKUBECONFIG")) && kubeconfig != null && !kubeconfig.isEmpty()) {
            try {
                Credentials fromFile = fromKubeconfig(Paths.get(kubeconfig));
                lastSource = "kubeconfig " + kubeconfig + " (" + fromFile.server + ")";
                return fromFile;
            } catch (SecurityException e) {
                logger.error("k8s-discovery: reading kubeconfig {} was denied by the security manager ({}); the JVM's java.policy "
                        + "must grant it read. Using the service account instead", kubeconfig, e.getMessage());
            } catch (Exception e) {
                logger.error("k8s-discovery: cannot use kubeconfig {} ({}); using the service account instead", kubeconfig, e.toString());
            }
        }
        Credentials sa = fromServiceAccount();
        lastSource = "service account token (" + sa.server + ")";
        return sa;
    }

    private Credentials fromServiceAccount() throws Exception {
        Path dir = Paths.get(settings.get(SERVICE_ACCOUNT_DIR, DEFAULT_SERVICE_ACCOUNT_DIR));
        String host = System.getenv("KUBERNETES_SERVICE_HOST");
        String port = System.getenv("KUBERNETES_SERVICE_PORT");
        if (host == null || port == null) {
            throw new IllegalStateException("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set");
        }
        String server = "https://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
        // Read on every request: projected service-account tokens are rotated by the kubelet.
        String token = new String(Files.readAllBytes(dir.resolve("token")), StandardCharsets.UTF_8).trim();
        SSLSocketFactory tls = Pem.socketFactory(Files.readAllBytes(dir.resolve("ca.crt")), null, null);
        return new Credentials(server, tls, token);
    }

    static Credentials fromKubeconfig(Path file) throws Exception {
        Map<String, Object> config = parse(Files.readAllBytes(file), XContentType.YAML);
        Path base = file.toAbsolutePath().getParent();
        Map<String, Object> context = named(config, "contexts", (String) config.get("current-context"), "context");
        Map<String, Object> cluster = named(config, "clusters", (String) context.get("cluster"), "cluster");
        Map<String, Object> user = named(config, "users", (String) context.get("user"), "user");
        String server = (String) cluster.get("server");
        if (server == null) {
            throw new IllegalArgumentException("the cluster of the current context has no server");
        }
        byte[] ca = material(cluster, "certificate-authority", base);
        byte[] cert = material(user, "client-certificate", base);
        byte[] key = material(user, "client-key", base);
        String token = (String) user.get("token");
        if (token == null && user.get("tokenFile") != null) {
            token = new String(Files.readAllBytes(base.resolve((String) user.get("tokenFile"))), StandardCharsets.UTF_8).trim();
        }
        return new Credentials(server, Pem.socketFactory(ca, cert, key), token);
    }

    /** {@code <name>-data} (base64) or {@code <name>} (a path, relative to the kubeconfig's folder). */
    private static byte[] material(Map<String, Object> section, String name, Path base) throws IOException {
        Object data = section.get(name + "-data");
        if (data != null) {
            return Base64.getMimeDecoder().decode(String.valueOf(data));
        }
        Object path = section.get(name);
        return path == null ? null : Files.readAllBytes(base.resolve(String.valueOf(path)));
    }

    /** The entry of list {@code list} called {@code name} (the first one when name is null), its {@code key} map. */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> named(Map<String, Object> config, String list, String name, String key) {
        for (Map<String, Object> entry : K8sUnicastHostsProvider.maps(config.get(list))) {
            if (name == null || name.equals(entry.get("name"))) {
                Object value = entry.get(key);
                return value instanceof Map ? (Map<String, Object>) value : Collections.<String, Object>emptyMap();
            }
        }
        throw new IllegalArgumentException("kubeconfig has no " + list + " entry named " + name);
    }

    private static Map<String, Object> request(Credentials credentials, String path) throws IOException {
        HttpURLConnection conn = (HttpURLConnection) new URL(credentials.server + path).openConnection();
        if (conn instanceof HttpsURLConnection) {
            ((HttpsURLConnection) conn).setSSLSocketFactory(credentials.tls);
        }
        conn.setConnectTimeout(5000);
        conn.setReadTimeout(5000);
        conn.setRequestProperty("Accept", "application/json");
        if (credentials.token != null) {
            conn.setRequestProperty("Authorization", "Bearer " + credentials.token);
        }
        int status = conn.getResponseCode();
        InputStream body = status < 400 ? conn.getInputStream() : conn.getErrorStream();
        byte[] bytes = body == null ? new byte[0] : readAll(body);
        if (status != 200) {
            String text = new String(bytes, StandardCharsets.UTF_8);
            throw new IOException("HTTP " + status + " from " + credentials.server + path + ": "
                    + (text.length() > 300 ? text.substring(0, 300) : text));
        }
        return parse(bytes, XContentType.JSON);
    }

    /** With Elasticsearch's own parsers; named, since 2.x detects YAML only after a leading "---". */
    private static Map<String, Object> parse(byte[] bytes, XContentType type) throws IOException {
        try (XContentParser parser = XContentFactory.xContent(type).createParser(bytes)) {
            return parser.map();
        }
    }

    private static byte[] readAll(InputStream in) throws IOException {
        try (InputStream stream = in) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            for (int n; (n = stream.read(buf)) > 0; ) {
                out.write(buf, 0, n);
            }
            return out.toByteArray();
        }
    }

    static final class Credentials {
        final String server;
        final SSLSocketFactory tls;
        final String token;

        Credentials(String server, SSLSocketFactory tls, String token) {
            this.server = server.endsWith("/") ? server.substring(0, server.length() - 1) : server;
            this.tls = tls;
            this.token = token;
        }
    }
}
