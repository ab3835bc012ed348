package local.escluster.discovery;

import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.discovery.DiscoveryModule;
import org.elasticsearch.discovery.zen.ZenDiscovery;
import org.elasticsearch.plugins.Plugin;

/**
 * Registers {@code discovery.type: kubernetes}: zen discovery whose unicast targets come from
 * the Endpoints of the service named by {@code cloud.kubernetes.service}.
 */
public class K8sDiscoveryPlugin extends Plugin {
    static final String DISCOVERY_TYPE = "kubernetes";

    private final Settings settings;

    public K8sDiscoveryPlugin(Settings settings) {
        this.settings = settings;
    }

    @Override
    public String name() {
        return "k8s-discovery";
    }

    @Override
    public String description() {
        return "Kubernetes discovery through a service's Endpoints (es-cluster)";
    }

    public void onModule(DiscoveryModule discoveryModule) {
        discoveryModule.addDiscoveryType(DISCOVERY_TYPE, ZenDiscovery.class);
        // Host providers apply to every zen discovery; only add ours when it was asked for.
        if (DISCOVERY_TYPE.equals(settings.get(DiscoveryModule.DISCOVERY_TYPE_KEY))) {
            discoveryModule.addUnicastHostProvider(K8sUnicastHostsProvider.class);
        }
    }
}
