// Frame pacing and the receive path of the media protocol.
#include <gtest/gtest.h>

#include <thread>

#include "common/audio/tone.h"
#include "common/media/audio_stream.h"
#include "common/media/frame_pacer.h"

namespace parley::media {
namespace {

using Clock = FramePacer::Clock;
using std::chrono::milliseconds;

TEST(FramePacerTest, DueTimesDoNotDrift) {
  FramePacer pacer;
  Clock::time_point t0 = Clock::now();
  EXPECT_EQ(pacer.Due(t0), t0);
  // Each frame goes out 3 ms late; the schedule stays on the 20 ms grid anyway.
  Clock::time_point now = t0;
  for (int i = 0; i < 50; ++i) {
    Clock::time_point due = pacer.Due(now);
    EXPECT_EQ(due, t0 + i * milliseconds(20));
    now = due + milliseconds(3);
    pacer.Sent(now);
  }
  EXPECT_EQ(pacer.frames(), 50);
  EXPECT_EQ(pacer.late_frames(), 0);
}

TEST(FramePacerTest, RestartsAfterRunningDry) {
  FramePacer pacer;
  Clock::time_point t0 = Clock::now();
  pacer.Sent(pacer.Due(t0));
  // Nothing to send for a second: the next frame starts a new run at once, no burst.
  Clock::time_point later = t0 + milliseconds(1000);
  EXPECT_EQ(pacer.Due(later), later);
  pacer.Sent(later);
  EXPECT_EQ(pacer.Due(later), later + milliseconds(20));
  // A frame 15 ms late counts as late.
  pacer.Sent(later + milliseconds(35));
  EXPECT_EQ(pacer.late_frames(), 1);
  pacer.Restart();
  Clock::time_point again = later + milliseconds(40);
  EXPECT_EQ(pacer.Due(again), again);
}

std::vector<parley::v1::Audio> EncodeTone(int rate, double hz, int frames) {
  auto sender = AudioSender::Create(rate);
  EXPECT_TRUE(sender.ok());
  audio::ToneGenerator tone(hz, rate);
  std::vector<parley::v1::Audio> out;
  for (int i = 0; i < frames; ++i) {
    auto audio = (*sender)->Encode(tone.Next((*sender)->frame_samples()));
    EXPECT_TRUE(audio.ok());
    out.push_back(*audio);
  }
  return out;
}

std::vector<int16_t> ReceiveAll(AudioReceiver& receiver,
                                const std::vector<parley::v1::Audio>& frames) {
  std::vector<int16_t> out;
  for (const auto& f : frames) {
    for (const audio::PcmFrame& pcm : receiver.Receive(f)) {
      EXPECT_EQ(pcm.samples.size(), 320u);
      out.insert(out.end(), pcm.samples.begin(), pcm.samples.end());
    }
  }
  return out;
}

TEST(AudioStreamTest, NumbersFramesAndRoundTrips) {
  std::vector<parley::v1::Audio> frames = EncodeTone(16000, 440, 50);
  EXPECT_EQ(frames[3].seq(), 3u);
  EXPECT_EQ(frames[3].timestamp_samples(), 960u);
  auto receiver = AudioReceiver::Create(16000);
  ASSERT_TRUE(receiver.ok());
  std::vector<int16_t> pcm = ReceiveAll(**receiver, frames);
  EXPECT_EQ(pcm.size(), 50u * 320);
  EXPECT_NEAR(audio::ZeroCrossingFrequency(std::span(pcm).subspan(1600), 16000), 440, 3);
}

TEST(AudioStreamTest, ResamplesAFortyEightKilohertzPeer) {
  std::vector<parley::v1::Audio> frames = EncodeTone(48000, 1000, 50);
  auto receiver = AudioReceiver::Create(48000, 16000);
  ASSERT_TRUE(receiver.ok());
  std::vector<int16_t> pcm = ReceiveAll(**receiver, frames);
  EXPECT_NEAR(static_cast<double>(pcm.size()), 50 * 320, 320);
  EXPECT_NEAR(audio::ZeroCrossingFrequency(std::span(pcm).subspan(1600), 16000), 1000, 5);
}

TEST(AudioStreamTest, ConcealsHolesAndDropsLateFrames) {
  std::vector<parley::v1::Audio> frames = EncodeTone(16000, 440, 20);
  auto receiver = AudioReceiver::Create(16000);
  ASSERT_TRUE(receiver.ok());
  std::vector<parley::v1::Audio> damaged = {frames[0], frames[1], frames[3],
                                            frames[2], frames[3], frames[4]};
  // frames[10] after a 5-frame hole: filled with silence rather than concealment.
  damaged.push_back(frames[10]);
  std::vector<int16_t> pcm = ReceiveAll(**receiver, damaged);
  const ReceiveStats& stats = (*receiver)->stats();
  EXPECT_EQ(stats.concealed_frames, 1);   // frames[2]'s slot
  EXPECT_EQ(stats.late_or_duplicate, 2);  // frames[2] late, frames[3] twice
  EXPECT_EQ(stats.filled_ms, 100);        // frames 5..9
  EXPECT_EQ(pcm.size(), 11u * 320);       // 0..10, every slot filled once
}

TEST(AudioStreamTest, StampsFollowRealTimeAcrossPauses) {
  auto sender = AudioSender::Create(16000);
  ASSERT_TRUE(sender.ok());
  Clock::time_point t0 = Clock::now();
  auto stamp = [&](bool new_run, Clock::duration at) {
    auto payload = (*sender)->EncodePayload(std::vector<int16_t>(320, 0));
    return (*sender)->Stamp(*payload, new_run, t0 + at);
  };
  EXPECT_EQ(stamp(true, milliseconds(0)).timestamp_samples(), 0u);
  // Within a run frames are contiguous even when sent a little late.
  EXPECT_EQ(stamp(false, milliseconds(27)).timestamp_samples(), 320u);
  EXPECT_EQ(stamp(false, milliseconds(40)).timestamp_samples(), 640u);
  // After a 500 ms pause the next run starts where real time is.
  parley::v1::Audio resumed = stamp(true, milliseconds(560));
  EXPECT_EQ(resumed.timestamp_samples(), 28u * 320);
  EXPECT_EQ(resumed.seq(), 3u);
  // A run that starts "early" (a backlog was still being sent) never goes backwards.
  EXPECT_EQ(stamp(true, milliseconds(561)).timestamp_samples(), 29u * 320);
}

}  // namespace
}  // namespace parley::media
