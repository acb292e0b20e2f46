// WriteBehindQueue: a write refused as UNAVAILABLE is kept and retried until it succeeds, writes
// keep their submission order, other errors come back at once, and the capacity is enforced.
#include "services/worker/write_behind_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace parley::worker {
namespace {

// A fake service that is down until Up() and records what it wrote, in order.
class FakeService {
 public:
  void Up() { up_.store(true); }
  WriteBehindQueue::Write Write(std::string what) {
    return [this, what] {
      if (!up_.load()) return absl::UnavailableError("down");
      absl::MutexLock lock(&mu_);
      written_.push_back(what);
      return absl::OkStatus();
    };
  }
  std::vector<std::string> written() {
    absl::MutexLock lock(&mu_);
    return written_;
  }

 private:
  std::atomic<bool> up_{false};
  absl::Mutex mu_;
  std::vector<std::string> written_;
};

constexpr WriteBehindOptions kFast{.first_backoff = absl::Milliseconds(5),
                                   .max_backoff = absl::Milliseconds(20)};

TEST(WriteBehindQueueTest, WritesNowWhenTheServiceAnswers) {
  WriteBehindQueue queue(kFast);
  FakeService service;
  service.Up();
  EXPECT_TRUE(queue.Submit("turns", service.Write("turns")).ok());
  EXPECT_EQ(service.written(), std::vector<std::string>{"turns"});
  EXPECT_EQ(queue.size(), 0u);
}

TEST(WriteBehindQueueTest, KeepsWritesWhileDownAndWritesThemInOrderOnceUp) {
  WriteBehindQueue queue(kFast);
  FakeService service;
  EXPECT_TRUE(queue.Submit("turns a", service.Write("turns a")).ok());
  EXPECT_TRUE(queue.Submit("complete a", service.Write("complete a")).ok());
  EXPECT_TRUE(queue.Submit("turns b", service.Write("turns b")).ok());
  EXPECT_EQ(queue.size(), 3u);
  EXPECT_TRUE(service.written().empty());
  service.Up();
  ASSERT_TRUE(queue.WaitEmpty(absl::Seconds(30)));
  EXPECT_EQ(service.written(), (std::vector<std::string>{"turns a", "complete a", "turns b"}));
}

TEST(WriteBehindQueueTest, APermanentErrorIsReturnedAndNotKept) {
  WriteBehindQueue queue(kFast);
  absl::Status refused = queue.Submit("bad", [] { return absl::InvalidArgumentError("no"); });
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(queue.size(), 0u);
}

TEST(WriteBehindQueueTest, FullQueueRefusesMore) {
  WriteBehindOptions options = kFast;
  options.capacity = 2;
  WriteBehindQueue queue(options);
  FakeService service;
  EXPECT_TRUE(queue.Submit("1", service.Write("1")).ok());
  EXPECT_TRUE(queue.Submit("2", service.Write("2")).ok());
  EXPECT_EQ(queue.Submit("3", service.Write("3")).code(), absl::StatusCode::kResourceExhausted);
  service.Up();
  ASSERT_TRUE(queue.WaitEmpty(absl::Seconds(30)));
  EXPECT_EQ(service.written(), (std::vector<std::string>{"1", "2"}));
}

TEST(WriteBehindQueueTest, TooOldWritesAreDropped) {
  WriteBehindOptions options = kFast;
  options.max_age = absl::ZeroDuration();
  WriteBehindQueue queue(options);
  FakeService service;
  EXPECT_TRUE(queue.Submit("old", service.Write("old")).ok());
  ASSERT_TRUE(queue.WaitEmpty(absl::Seconds(30)));
  service.Up();
  EXPECT_TRUE(service.written().empty());
}

}  // namespace
}  // namespace parley::worker
