#!/usr/bin/env python3
"""Drive Berth from Python: generate stubs from proto/, run a container, read its logs.

This is the documented example for users of other languages. It needs `grpcio` and
`grpcio-tools` (`pip install -r tests/python/requirements.txt`).

    python3 tests/python/berth_example.py --socket /run/berth/berthd.sock --image busybox

It prints every log entry as `<stream> <text>` and exits with the container's exit code.
"""

import argparse
import importlib
import pathlib
import sys
import tempfile

import grpc
from grpc_tools import protoc

PROTO_ROOT = pathlib.Path(__file__).resolve().parents[2] / "proto"


def generate_stubs(out_dir: pathlib.Path) -> None:
    """Compiles berth/node/v1/*.proto into importable Python modules under out_dir."""
    well_known = pathlib.Path(protoc.__file__).parent / "_proto"
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / "berth/node/v1").glob("*.proto"))
    status = protoc.main([
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *protos,
    ])
    if status != 0:
        sys.exit(f"protoc failed with status {status}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", default="/run/berth/berthd.sock", help="berthd's unix socket")
    parser.add_argument("--image", default="busybox", help="a local image to run")
    parser.add_argument("command", nargs="*", default=["sh", "-c", "echo hello from python; echo oops >&2"])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as stubs:
        generate_stubs(pathlib.Path(stubs))
        sys.path.insert(0, stubs)
        pb = importlib.import_module("berth.node.v1.containers_pb2")
        common = importlib.import_module("berth.node.v1.common_pb2")
        rpc = importlib.import_module("berth.node.v1.containers_pb2_grpc")

        # grpc-core names a unix socket's authority after its path, which HTTP/2 servers
        # such as berthd's refuse; any plain host name works.
        options = [("grpc.default_authority", "localhost")]
        with grpc.insecure_channel(f"unix://{args.socket}", options=options) as channel:
            containers = rpc.ContainerServiceStub(channel)
            created = containers.CreateContainer(pb.CreateContainerRequest(
                config=pb.ContainerConfig(image=args.image, cmd=args.command),
                host_config=pb.HostConfig(),
            ))
            try:
                containers.StartContainer(pb.StartContainerRequest(id=created.id))
                for entry in containers.StreamContainerLogs(
                        pb.StreamContainerLogsRequest(id=created.id, follow=True)):
                    stream = common.Stream.Name(entry.stream).removeprefix("STREAM_").lower()
                    print(stream, entry.data.decode(errors="replace"), end="")
                exit_code = containers.WaitContainer(pb.WaitContainerRequest(id=created.id)).exit_code
            finally:
                containers.RemoveContainer(pb.RemoveContainerRequest(id=created.id, force=True))
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
