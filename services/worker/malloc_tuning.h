// glibc malloc settings for a process that runs many calls, each on a few threads of its own.
//
// glibc gives threads up to 8 malloc arenas per core and keeps each arena's freed peak as
// resident memory, so with hundreds of call threads the same transient buffers (synthesised
// sentences, queued audio) are held once per arena. Fewer arenas let calls reuse each other's
// freed memory; the worker's allocations are small and short, so contention stays low (measured
// in docs/benchmarks.md, "Memory per call").
//
//   int main(int argc, char** argv) {
//     parley::worker::LimitMallocArenas(absl::GetFlag(FLAGS_malloc_arenas));
//     ...start threads...
//   }
#pragma once

namespace parley::worker {

// Caps glibc's malloc arenas at `arenas` (mallopt M_ARENA_MAX), to be called before the
// process starts its threads. Leaves glibc's default when `arenas` ≤ 0 or when the environment
// sets MALLOC_ARENA_MAX (an operator's explicit choice wins). Returns the cap in effect (0: glibc's
// default, or the environment's value); never fails (a refused mallopt leaves the default).
int LimitMallocArenas(int arenas);

}  // namespace parley::worker
