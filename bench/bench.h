// Benchmarks, run by the one bench/bench_main.cpp; each prints its table and ratios against a
// reference measured in the same run.
#pragma once

void run_conv_bench();
