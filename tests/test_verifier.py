import pytest
from tests.conftest import deploy_system


@pytest.fixture(scope="module")
def system(project, chain, deployer):
    return deploy_system(project, chain, deployer, with_pool=False)


def test_probe(system):
    try:
        system.verifier.sampleAt(9, b"\x01" * 32, 0)
    except Exception as exc:
        print("TYPE", type(exc), "msg", repr(exc.revert_message))
        b = exc.base_err
        print("BASE", type(b), repr(b), getattr(b, "data", None), getattr(b, "message", None))
        print("CAUSE", type(exc.__cause__), repr(exc.__cause__), getattr(exc.__cause__, "data", None))
        print("CTX", type(exc.__context__), getattr(exc.__context__, "data", None))
        print(vars(exc).keys())
