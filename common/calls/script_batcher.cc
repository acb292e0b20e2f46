#include "common/calls/script_batcher.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace parley::calls {

struct ScriptBatcher::Pending {
  std::vector<std::string> args;
  // Async callers: called with the reply, then the Pending is deleted. Empty for Run's callers,
  // which wait for `finished` and read `reply`.
  Done done;
  absl::StatusOr<redis::RedisReply> reply = absl::UnknownError("script batch: not run");
  bool finished = false;
};

ScriptBatcher::ScriptBatcher(redis::RedisPool* redis, const redis::RedisScript& script,
                             BatchOptions options)
    : redis_(redis), script_(script), options_(options) {}

ScriptBatcher::~ScriptBatcher() {
  std::vector<std::thread> leaders;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    leaders.swap(leaders_);
  }
  for (std::thread& t : leaders) t.join();
}

void ScriptBatcher::LeaderLoop() {
  const int max_runs = std::max(1, options_.max_runs);
  absl::MutexLock lock(&mu_);
  auto work_or_stop = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return (!queue_.empty() && runs_ < max_runs) || (stopping_ && queue_.empty());
  };
  while (true) {
    mu_.Await(absl::Condition(&work_or_stop));
    if (queue_.empty()) return;  // stopping, nothing left
    LeadLocked(async_head_);
  }
}

void ScriptBatcher::LeadLocked(const std::vector<std::string>& head) {
  const size_t max_batch = static_cast<size_t>(std::max(1, options_.max_batch));
  const int max_runs = std::max(1, options_.max_runs);
  while (!queue_.empty() && runs_ < max_runs) {
    // Lead a run with the oldest waiting callers.
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
    // The waiting callers do not touch their args until `finished`.
    for (Pending* p : batch) {
      argv.push_back(absl::StrCat(p->args.size()));
      for (std::string& a : p->args) argv.push_back(std::move(a));
    }
    absl::StatusOr<redis::RedisReply> r = redis_->Eval(script_, {}, argv);
    std::vector<Pending*> async, sync;
    for (size_t k = 0; k < batch.size(); ++k) {
      if (!r.ok()) {
        batch[k]->reply = r.status();
      } else if (!r->is_array() || r->elements.size() != batch.size()) {
        batch[k]->reply = absl::InternalError("script batch: unexpected reply");
      } else {
        batch[k]->reply = std::move(r->elements[k]);
      }
      (batch[k]->done ? async : sync).push_back(batch[k]);
    }
    // Async callers first, outside the lock: nobody else refers to their Pending.
    for (Pending* p : async) {
      p->done(std::move(p->reply));
      delete p;
    }
    mu_.Lock();
    --runs_;
    // Run's callers may return (and their Pending go) once they see this.
    for (Pending* p : sync) p->finished = true;
  }
}

absl::StatusOr<redis::RedisReply> ScriptBatcher::Run(const std::vector<std::string>& head,
                                                     std::vector<std::string> args) {
  Pending me{std::move(args)};
  const int max_runs = std::max(1, options_.max_runs);
  absl::MutexLock lock(&mu_);
  queue_.push_back(&me);
  auto finished_or_can_lead = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return me.finished || (!queue_.empty() && runs_ < max_runs);
  };
  while (!me.finished) {
    mu_.Await(absl::Condition(&finished_or_can_lead));
    // Leads until the queue is empty or every run slot is taken (this caller among them unless
    // the queue is longer than a batch; then it leads or joins a later run).
    LeadLocked(head);
  }
  return std::move(me.reply);
}

void ScriptBatcher::RunAsync(const std::vector<std::string>& head, std::vector<std::string> args,
                             Done done) {
  auto* me = new Pending{std::move(args), std::move(done)};
  absl::MutexLock lock(&mu_);
  if (leaders_.empty()) {
    async_head_ = head;
    for (int i = 0; i < std::max(1, options_.max_runs); ++i) {
      leaders_.emplace_back([this] { LeaderLoop(); });
    }
  }
  // A leader thread (or a Run caller) takes it when a run slot is free.
  queue_.push_back(me);
}

}  // namespace parley::calls
