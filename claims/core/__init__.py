"""The pure core: models, money, claim types. No I/O, no other slice."""
