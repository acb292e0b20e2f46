#include "common/calls/script_batcher.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace parley::calls {

struct ScriptBatcher::Pending {
  std::vector<std::string> args;
  absl::StatusOr<redis::RedisReply> reply = absl::UnknownError("script batch: not run");
  bool done = false;
};

ScriptBatcher::ScriptBatcher(redis::RedisPool* redis, const redis::RedisScript& script,
                             BatchOptions options)
    : redis_(redis), script_(script), options_(options) {}

absl::StatusOr<redis::RedisReply> ScriptBatcher::Run(const std::vector<std::string>& head,
                                                     std::vector<std::string> args) {
  Pending me{std::move(args)};
  const size_t max_batch = static_cast<size_t>(std::max(1, options_.max_batch));
  const int max_runs = std::max(1, options_.max_runs);
  absl::MutexLock lock(&mu_);
  queue_.push_back(&me);
  auto can_lead = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() && runs_ < max_runs;
  };
  auto done_or_can_lead = [&]()
                              ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return me.done || can_lead(); };
  while (!me.done) {
    if (!can_lead()) {
      mu_.Await(absl::Condition(&done_or_can_lead));
      continue;
    }
    // Lead a run with the oldest waiting callers (this one among them unless the queue is longer
    // than a batch; then it leads or joins a later run).
    std::vector<Pending*> batch;
    while (!queue_.empty() && batch.size() < max_batch) {
      batch.push_back(queue_.front());
      queue_.pop_front();
    }
    ++runs_;
    mu_.Unlock();
    std::vector<std::string> argv = head;
    size_t total = argv.size();
    for (Pending* p : batch) total += 1 + p->args.size();
    argv.reserve(total);
    // The waiting callers do not touch their args until `done`.
    for (Pending* p : batch) {
      argv.push_back(absl::StrCat(p->args.size()));
      for (std::string& a : p->args) argv.push_back(std::move(a));
    }
    absl::StatusOr<redis::RedisReply> r = redis_->Eval(script_, {}, argv);
    mu_.Lock();
    --runs_;
    for (size_t k = 0; k < batch.size(); ++k) {
      if (!r.ok()) {
        batch[k]->reply = r.status();
      } else if (!r->is_array() || r->elements.size() != batch.size()) {
        batch[k]->reply = absl::InternalError("script batch: unexpected reply");
      } else {
        batch[k]->reply = std::move(r->elements[k]);
      }
      batch[k]->done = true;
    }
  }
  return std::move(me.reply);
}

}  // namespace parley::calls
