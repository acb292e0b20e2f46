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

TEST(LegSendQueueTest, EncodesOldestPcmFirstAndKeepsTheNewestAsPcm) {
  LegSendQueue q;
  q.PushFrame(Frame(1));
  q.PushMark("m");
  q.PushFrame(Frame(2));
  q.PushFrame(Frame(3));
  EXPECT_EQ(q.NextToEncode(/*keep_pcm=*/3), nullptr);  // no more PCM than kept

  LegSendQueue::Item* next = q.NextToEncode(1);
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(next->pcm[0], 1);
  q.SetPacket(next, "p1");
  next = q.NextToEncode(1);
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(next->pcm[0], 2);  // past the mark
  q.SetPacket(next, "p2");
  EXPECT_EQ(q.NextToEncode(1), nullptr);  // frame 3 stays PCM
  EXPECT_EQ(q.pcm_frames(), 1);
  EXPECT_EQ(q.frames(), 3);

  LegSendQueue::Item first = q.Pop();
  EXPECT_TRUE(first.encoded);
  EXPECT_EQ(first.packet, "p1");
  EXPECT_TRUE(first.pcm.empty());
  EXPECT_TRUE(q.Pop().is_mark);
  EXPECT_EQ(q.Pop().packet, "p2");
  q.PushFrame(Frame(4));
  next = q.NextToEncode(1);  // frame 3 is the oldest PCM now
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(next->pcm[0], 3);
  LegSendQueue::Item third = q.Pop();
  EXPECT_FALSE(third.encoded);
  EXPECT_EQ(q.pcm_frames(), 1);
}

TEST(LegSendQueueTest, ClearResetsTheEncodedPrefix) {
  LegSendQueue q;
  q.PushFrame(Frame(1));
  q.PushFrame(Frame(2));
  q.SetPacket(q.NextToEncode(0), "p1");
  const uint64_t clears = q.clears();
  q.Clear();
  EXPECT_NE(q.clears(), clears);
  EXPECT_EQ(q.pcm_frames(), 0);
  q.PushFrame(Frame(5));
  LegSendQueue::Item* next = q.NextToEncode(0);
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(next->pcm[0], 5);
}

}  // namespace
}  // namespace parley::worker
