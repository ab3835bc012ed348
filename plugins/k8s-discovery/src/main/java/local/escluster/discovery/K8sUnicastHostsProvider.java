package local.escluster.discovery;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import org.elasticsearch.Version;
import org.elasticsearch.cluster.node.DiscoveryNode;
import org.elasticsearch.common.component.AbstractComponent;
import org.elasticsearch.common.inject.Inject;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.transport.InetSocketTransportAddress;
import org.elasticsearch.discovery.zen.ping.unicast.UnicastHostsProvider;

/**
 * The fabric8 plugin's contract: on every ping round, read the v1 Endpoints of
 * {@code cloud.kubernetes.service} in {@code cloud.kubernetes.namespace}, and make every
 * address times every port a unicast target. The ports are not filtered: a service that also
 * exposes 9200 makes zen dial 9200, which is why the transport service must carry 9300 alone.
 */
public class K8sUnicastHostsProvider extends AbstractComponent implements UnicastHostsProvider {
    static final String SERVICE = "cloud.kubernetes.service";
    static final String NAMESPACE = "cloud.kubernetes.namespace";

    private final Version version;
    private final ApiServerClient client;

    @Inject
    public K8sUnicastHostsProvider(Settings settings, Version version) {
        super(settings);
        this.version = version;
        this.client = new ApiServerClient(settings, logger);
    }

    @Override
    public List<DiscoveryNode> buildDynamicNodes() {
        String service = settings.get(SERVICE);
        String namespace = settings.get(NAMESPACE, "default");
        if (service == null || service.isEmpty()) {
            logger.error("k8s-discovery: [{}] is not set, no unicast targets", SERVICE);
            return Collections.emptyList();
        }
        Map<String, Object> endpoints;
        try {
            endpoints = client.get("/api/v1/namespaces/" + namespace + "/endpoints/" + service);
        } catch (Exception e) {
            logger.warn("k8s-discovery: cannot read endpoints {}/{}: {}", namespace, service, e.toString());
            return Collections.emptyList();
        }
        List<DiscoveryNode> nodes = new ArrayList<>();
        List<String> targets = new ArrayList<>();
        for (Map<String, Object> subset : maps(endpoints.get("subsets"))) {
            for (Map<String, Object> address : maps(subset.get("addresses"))) {
                for (Map<String, Object> port : maps(subset.get("ports"))) {
                    String ip = String.valueOf(address.get("ip"));
                    int number = ((Number) port.get("port")).intValue();
                    try {
                        InetSocketTransportAddress target = new InetSocketTransportAddress(InetAddress.getByName(ip), number);
                        nodes.add(new DiscoveryNode("#k8s-" + ip + ":" + number, target, version.minimumCompatibilityVersion()));
                        targets.add(ip + ":" + number);
                    } catch (Exception e) {
                        logger.warn("k8s-discovery: skipping endpoint {}:{}: {}", ip, number, e.toString());
                    }
                }
            }
        }
        logger.info("k8s-discovery: endpoints {}/{} via {}: targets {}", namespace, service, client.describe(), targets);
        return nodes;
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> maps(Object value) {
        if (!(value instanceof List)) {
            return Collections.emptyList();
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (Object item : (List<Object>) value) {
            if (item instanceof Map) {
                out.add((Map<String, Object>) item);
            }
        }
        return out;
    }
}
