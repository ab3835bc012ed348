// The docker resource plugin pulumi-docker's SDK asks for, built here because the Go module
// proxy does not serve github.com/pulumi/pulumi-docker/provider. pulumi-docker's RemoteImage
// and RegistryImage are a Terraform bridge of the docker Terraform provider's docker_image and
// docker_registry_image (SDKv2 resources), so this main bridges that provider with the same
// tokens, version and property names the Python SDK sends. Built by scripts/toolchain.sh, whose
// go.mod places this module inside the Terraform provider's module path so it may import
// internal/provider.
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/terraform-providers/terraform-provider-docker/internal/provider"
)

// version is the pulumi-docker release in requirements.txt: the SDK asks the engine for the
// docker plugin of its own version.
var version = "5.2.0"

func main() {
	info := tfbridge.ProviderInfo{
		P:       shimv2.NewProvider(provider.New(version)()),
		Name:    "docker",
		Version: version,
		Resources: map[string]*tfbridge.ResourceInfo{
			"docker_image":          {Tok: "docker:index/remoteImage:RemoteImage"},
			"docker_registry_image": {Tok: "docker:index/registryImage:RegistryImage"},
		},
		// pulumi-docker keeps this list's name singular; the bridge default would pluralise it.
		Config: map[string]*tfbridge.SchemaInfo{"registry_auth": {Name: "registryAuth"}},
	}
	tfbridge.Main("docker", version, info, nil)
}
