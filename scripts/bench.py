"""`ape run bench`: gas and agent benchmarks (not yet)."""

import click


@click.command()
def cli() -> None:
    click.echo("bench: not yet")
