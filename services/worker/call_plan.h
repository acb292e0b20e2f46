// What a call attempt takes from its runtime config: ring timeout and duration limit, the
// campaign's concurrency limit, caller id, the graph's durable state keys, the context the callee
// side sees — and the retry decision when the attempt ends unsuccessfully.
//
//   CallPlan plan = PlanCall(call, config);
//   leg = telephony.Dial({.to = call.to, .from = plan.from, .ring_timeout = plan.ring_timeout,
//                         .context = plan.invite_context, …}, config.trunk());
//   calls::RetryDecision retry = DecideRetry(call, &config, CALL_STATUS_BUSY, absl::Now());
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/calls/call_store.h"
#include "parley/v1/config.pb.h"

namespace parley::worker {

struct CallPlan {
  absl::Duration ring_timeout = absl::Seconds(30);  // template limits.ring_timeout_s
  absl::Duration max_duration = absl::Minutes(10);  // template limits.max_duration_s
  int max_concurrent_calls = 0;                     // campaign's; 0 = unlimited
  std::string from;  // the call's, else the campaign's, else the agent's caller id
  std::vector<std::string> durable_keys;              // graph durable_keys
  std::map<std::string, std::string> invite_context;  // top-level scalars of the call context
};

// Never fails: absent or malformed fields take the defaults above.
CallPlan PlanCall(const calls::CallRecord& call, const parley::v1::RuntimeConfig& config);

// True for outcomes a retry policy may retry (busy, no_answer, declined, voicemail, failed).
bool MayRetry(parley::v1::CallStatus outcome);

// The campaign's retry policy (or, without campaign, the call's own max_attempts with the default
// backoff) applied to attempt `call.attempt` ending with `outcome` at `now`, within the calling
// window in the callee's zone. No retry (0) for outcomes MayRetry rejects. `config` may be null
// (config unknown): the defaults apply.
calls::RetryDecision DecideRetry(const calls::CallRecord& call,
                                 const parley::v1::RuntimeConfig* config,
                                 parley::v1::CallStatus outcome, absl::Time now);

}  // namespace parley::worker
