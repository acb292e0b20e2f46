#include "services/dispatcher/delayed_job_mover.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/status/status.h"

namespace parley::dispatcher {

DelayedJobMover::DelayedJobMover(calls::CallStore* store, MoverOptions options)
    : store_(store), options_(std::move(options)) {}

DelayedJobMover::~DelayedJobMover() { Stop(); }

void DelayedJobMover::Start() {
  if (thread_.joinable() || stop_.HasBeenNotified()) return;
  thread_ = std::thread([this] { Loop(); });
}

void DelayedJobMover::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<int> DelayedJobMover::RunOnce() {
  int total = 0;
  while (true) {
    absl::Time now = options_.clock ? options_.clock() : absl::Now();
    PARLEY_ASSIGN_OR_RETURN(int promoted,
                            store_->PromoteDue(absl::ToUnixMillis(now), options_.batch));
    total += promoted;
    promoted_ += promoted;
    // Fewer than a full batch: nothing more is due. (An entry whose call was canceled is removed
    // without counting, so a full batch of those may end the pass early; the next round goes on.)
    if (promoted < options_.batch || stop_.HasBeenNotified()) break;
  }
  return total;
}

void DelayedJobMover::Loop() {
  bool failing = false;
  do {
    absl::StatusOr<int> promoted = RunOnce();
    if (!promoted.ok()) {
      if (!failing) {
        log::Warn("delayed job mover: cannot promote due calls; retrying",
                  {{"error", std::string(promoted.status().message())}});
      }
      failing = true;
      continue;
    }
    if (failing) log::Info("delayed job mover: promoting again");
    failing = false;
    if (*promoted > 0) log::Debug("promoted due calls", {{"count", absl::StrCat(*promoted)}});
  } while (!stop_.WaitForNotificationWithTimeout(options_.interval));
}

}  // namespace parley::dispatcher
