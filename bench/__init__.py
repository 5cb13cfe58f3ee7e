"""The benchmark against IIPImage (bash scripts/bench.sh); not part of the tests."""
