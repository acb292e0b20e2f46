#include "services/worker/malloc_tuning.h"

#include <malloc.h>

#include <cstdlib>

namespace parley::worker {

int LimitMallocArenas(int arenas) {
  if (const char* env = std::getenv("MALLOC_ARENA_MAX"); env != nullptr && *env != '\0') {
    return std::atoi(env);  // glibc read it at startup
  }
  if (arenas <= 0) return 0;
  return mallopt(M_ARENA_MAX, arenas) == 1 ? arenas : 0;
}

}  // namespace parley::worker
