import time
def test_probe(chain, accounts):
    for n in (1, 100, 1000):
        t = time.time(); chain.mine(n); print("mine", n, time.time() - t)
    t = time.time()
    for _ in range(20):
        chain.blocks.head.number
    print("head x20", time.time() - t)
    t = time.time()
    for _ in range(10):
        accounts[0].transfer(accounts[1], 1)
    print("tx x10", time.time() - t)
