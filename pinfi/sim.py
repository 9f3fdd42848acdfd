"""Economics simulation (not yet)."""

if __name__ == "__main__":
    print("sim: not yet")
