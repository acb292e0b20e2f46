#include "services/worker/leg_send_queue.h"

#include <gtest/gtest.h>

namespace parley::worker {
namespace {

std::vector<int16_t> Frame(int16_t value) {
  return std::vector<int16_t>(audio::kFrameSamples, value);
}

TEST(LegSendQueueTest, KeepsOrderAndCountsOnlyAudioFrames) {
  LegSendQueue q;
  q.PushFrame(Frame(1));
  q.PushMark("a");
  q.PushFrame(Frame(2));
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.frames(), 2);
  EXPECT_EQ(q.audio(), absl::Milliseconds(40));

  LegSendQueue::Item first = q.Pop();
  EXPECT_FALSE(first.is_mark);
  EXPECT_EQ(first.pcm[0], 1);
  EXPECT_EQ(q.frames(), 1);
  LegSendQueue::Item mark = q.Pop();
  EXPECT_TRUE(mark.is_mark);
  EXPECT_EQ(mark.mark, "a");
  EXPECT_EQ(q.frames(), 1);  // a mark is not audio
  EXPECT_EQ(q.Pop().pcm[0], 2);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.audio(), absl::ZeroDuration());
}

TEST(LegSendQueueTest, ClearDropsEverythingAndNamesTheDroppedMarks) {
  LegSendQueue q;
  q.PushMark("s1");
  q.PushFrame(Frame(1));
  q.PushMark("s2");
  q.PushFrame(Frame(2));
  EXPECT_EQ(q.Clear(), (std::vector<std::string>{"s1", "s2"}));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.frames(), 0);
  EXPECT_TRUE(q.Clear().empty());
}

}  // namespace
}  // namespace parley::worker
