"""Ports the v3.68 Python language host's main.go to the sdk/v3 of the pinned CLI, and makes
RunPlugin run the plugin the engine names (plugin_info.go). Every edit must match exactly once,
so a changed source fails the toolchain build here instead of building something else.

Usage: python3 port.py <main.go> <import path of the copied `python` helper package>
(plugin_info.go imports it as es-cluster.local/pulumi-language-python/python.)
"""

import re
import sys

path, helper_import = sys.argv[1], sys.argv[2]
src = open(path).read()


def edit(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        sys.exit(f"port.py: expected one {old!r} in {path}, found {text.count(old)}")
    return text.replace(old, new)


# The helper package left sdk/v3 (it became python/toolchain); the copy beside main.go serves.
src = edit(src, '"github.com/pulumi/pulumi/sdk/v3/python"', f'"{helper_import}"')
# About takes an AboutRequest since v3.9x.
src = edit(
    src,
    "About(ctx context.Context, req *pbempty.Empty) (*pulumirpc.AboutResponse, error)",
    "About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error)",
)
# logging.V(n) returns a logger now, not a bool.
src, n = re.subn(r"if logging\.V\((\d+)\) \{", r"if logging.V(\1).Enabled() {", src)
if n == 0:
    sys.exit(f"port.py: no `if logging.V(n) {{` in {path}")
# RunPlugin: the program and virtualenv from the request's ProgramInfo.
src = edit(
    src,
    """	args := []string{req.Program}
	args = append(args, req.Args...)

	var cmd *exec.Cmd
	var virtualenv string
	if host.virtualenv != "" {
		virtualenv = host.virtualenvPath
""",
    """	program, virtualenv := pluginProgram(req, host.virtualenvPath)
	args := append([]string{program}, req.Args...)

	var cmd *exec.Cmd
	if virtualenv != "" {
""",
)
# Run (the stack's program): the virtualenv from the request's ProgramInfo, i.e. Pulumi.yaml's
# runtime.options.virtualenv, which this CLI no longer passes as a flag.
src = edit(
    src,
    """	var virtualenv string
	if host.virtualenv != "" {
		virtualenv = host.virtualenvPath
		if !python.IsVirtualEnv(virtualenv) {
			return nil, python.NewVirtualEnvError(host.virtualenv, virtualenv)
		}
""",
    """	virtualenv := runVirtualenv(req, host.virtualenvPath)
	if virtualenv != "" {
		if !python.IsVirtualEnv(virtualenv) {
			return nil, python.NewVirtualEnvError(virtualenv, virtualenv)
		}
""",
)
# InstallDependencies: the folder and virtualenv from the request's ProgramInfo.
src = edit(
    src,
    """	if err := python.InstallDependenciesWithWriters(server.Context(),
		req.Directory, host.virtualenvPath, true /*showOutput*/, stdout, stderr); err != nil {""",
    """	if err := installDependencies(server.Context(), req, host.virtualenvPath, stdout, stderr); err != nil {""",
)
open(path, "w").write(src)
