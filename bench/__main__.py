"""`make bench`: run every benchmark and print its figures."""

from bench import throughput

if __name__ == "__main__":
    throughput.main()
