// The Lua scripts behind CallStore: each lifecycle step is one script, so it is atomic in Redis.
// Internal to common/calls. Every script takes KEYS[1] = the call hash and ARGV[1] = the key
// prefix; other keys are derived from the prefix (Parley runs one Redis instance, not a cluster).
#pragma once

#include "common/redis/redis_script.h"

namespace parley::calls::internal {

const redis::RedisScript& CreateScript();
const redis::RedisScript& ClaimScript();
const redis::RedisScript& RenewScript();
const redis::RedisScript& TransitionScript();
const redis::RedisScript& AppendEventScript();
const redis::RedisScript& TakeSlotScript();
const redis::RedisScript& FinishScript();
const redis::RedisScript& CancelScript();
const redis::RedisScript& PromoteScript();
const redis::RedisScript& DeferScript();
const redis::RedisScript& ReclaimScript();

}  // namespace parley::calls::internal
