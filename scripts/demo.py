"""`ape run demo`: the end-to-end run (until the full demo lands: deploy PinToken and report)."""

import click
from ape import accounts, chain, project
from ape.cli import ConnectedProviderCommand


@click.command(cls=ConnectedProviderCommand)
def cli() -> None:
    deployer = accounts.test_accounts[0]
    token = project.PinToken.deploy(10**26, 10**25, deployer, deployer, sender=deployer)
    click.echo(f"chain {chain.chain_id}: PinToken at {token.address}, supply {token.totalSupply()}")
