// Added by es-cluster's scripts/toolchain.sh to the v3.68 Python language host when it is built
// against the current protocol: engines since then name the plugin to run in RunPluginRequest.info
// (its folder and its runtime options) and leave `program` as ".", relative to that folder.
// The v3.68 host ran `python .` in the caller's folder, i.e. the stack's own program, so policy
// packs (`--policy-pack <folder>`) and PulumiPlugin.yaml component packages never started. Its
// InstallDependencies likewise ignored info and made a virtualenv in whatever folder it was in,
// and Run ignored Pulumi.yaml's virtualenv (once a flag, now only in RunRequest.info).

package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"es-cluster.local/pulumi-language-python/python"
)

// pluginProgram is the path for `python <path> args...` (a folder runs its __main__.py) and the
// virtualenv named by the plugin's own runtime options, if any.
func pluginProgram(req *pulumirpc.RunPluginRequest, fallbackVirtualenv string) (string, string) {
	info := req.GetInfo()
	if info == nil || info.GetProgramDirectory() == "" {
		return req.GetProgram(), fallbackVirtualenv
	}
	return filepath.Join(info.GetProgramDirectory(), info.GetEntryPoint()), infoVirtualenv(info)
}

// runVirtualenv is the virtualenv the stack's program runs in: Pulumi.yaml's, from the request.
func runVirtualenv(req *pulumirpc.RunRequest, fallbackVirtualenv string) string {
	if info := req.GetInfo(); info != nil && info.GetRootDirectory() != "" {
		if venv := infoVirtualenv(info); venv != "" {
			return venv
		}
	}
	return fallbackVirtualenv
}

// infoVirtualenv is runtime.options.virtualenv of Pulumi.yaml / PulumiPlugin.yaml, made absolute
// against the project's root; "" when unset.
func infoVirtualenv(info *pulumirpc.ProgramInfo) string {
	opts := info.GetOptions()
	if opts == nil {
		return ""
	}
	v, ok := opts.AsMap()["virtualenv"].(string)
	if !ok || v == "" {
		return ""
	}
	if !filepath.IsAbs(v) {
		v = filepath.Join(info.GetRootDirectory(), v)
	}
	return v
}

// installDependencies creates the program's or plugin's virtualenv and installs its
// requirements.txt into it, unless that virtualenv already exists: then it is left exactly as
// it is (the project pins its packages; the v3.68 code would also upgrade pip in it). Without a
// virtualenv option there is nothing of the program's own to install into.
func installDependencies(
	ctx context.Context, req *pulumirpc.InstallDependenciesRequest, fallbackVirtualenv string, stdout, stderr io.Writer,
) error {
	info := req.GetInfo()
	if info == nil || info.GetProgramDirectory() == "" {
		return python.InstallDependenciesWithWriters(ctx, req.GetDirectory(), fallbackVirtualenv, true, stdout, stderr)
	}
	venv := infoVirtualenv(info)
	switch {
	case venv == "":
		fmt.Fprintf(stdout, "no virtualenv option: using the python on PATH as it is\n")
		return nil
	case python.IsVirtualEnv(venv):
		fmt.Fprintf(stdout, "using the existing virtualenv %s as it is\n", venv)
		return nil
	default:
		return python.InstallDependenciesWithWriters(ctx, info.GetProgramDirectory(), venv, true, stdout, stderr)
	}
}
