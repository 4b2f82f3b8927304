"""python -m edgecloud.bench.gpu: the GPU bench without the rest of the CLI's imports."""

import typer

from edgecloud.bench.gpu.cli import gpu

if __name__ == "__main__":
    typer.run(gpu)
