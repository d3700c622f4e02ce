"""Real servers and Prisma-shaped seed data, shared by the test suite, the demo and the benchmarks."""
