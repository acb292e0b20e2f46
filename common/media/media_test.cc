// Frame pacing and the receive path of the media protocol.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "common/audio/tone.h"
#include "common/media/audio_stream.h"
#include "common/media/frame_pacer.h"
#include "common/media/frame_scheduler.h"

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

// A "line": frames of a few tones, the same samples every time it is generated.
std::vector<std::vector<int16_t>> Line(std::initializer_list<double> tones, int frames_each) {
  std::vector<std::vector<int16_t>> out;
  for (double hz : tones) {
    audio::ToneGenerator tone(hz, 16000);
    for (int i = 0; i < frames_each; ++i) out.push_back(tone.Next(320));
  }
  return out;
}

std::vector<std::string> SendLine(AudioSender& sender,
                                  const std::vector<std::vector<int16_t>>& line) {
  std::vector<std::string> packets;
  for (size_t i = 0; i < line.size(); ++i) {
    auto packet = sender.EncodePayload(line[i], /*new_run=*/i == 0);
    EXPECT_TRUE(packet.ok()) << packet.status();
    packets.push_back(packet.ok() ? *packet : "");
  }
  return packets;
}

TEST(AudioSenderCacheTest, RepeatedRunsComeFromTheCacheAsAFreshEncoderWouldMakeThem) {
  audio::OpusPacketCache cache(1 << 20);
  auto first = *AudioSender::Create(16000, audio::kFrameMs, {.cache = &cache});
  auto second = *AudioSender::Create(16000, audio::kFrameMs, {.cache = &cache});
  auto plain = *AudioSender::Create(16000);
  const auto greeting = Line({311.7, 523.3, 707.9}, 10);
  std::vector<std::string> encoded = SendLine(*first, greeting);
  EXPECT_EQ(cache.stats().hits, 0);
  EXPECT_EQ(cache.stats().entries, 30);
  // Another call sends other audio first: its greeting run is still served from the cache.
  SendLine(*second, Line({911.1}, 5));
  std::vector<std::string> cached = SendLine(*second, greeting);
  EXPECT_EQ(cached, encoded);
  EXPECT_EQ(cache.stats().hits, 30);
  // The first run's packets are exactly what an encoder without a cache produces.
  EXPECT_EQ(SendLine(*plain, greeting), encoded);
}

TEST(AudioSenderCacheTest, ALineThatDivergesIsEncodedFromThere) {
  audio::OpusPacketCache cache(1 << 20);
  auto a = *AudioSender::Create(16000, audio::kFrameMs, {.cache = &cache});
  auto b = *AudioSender::Create(16000, audio::kFrameMs, {.cache = &cache});
  SendLine(*a, Line({311.7, 523.3}, 10));
  const int64_t misses = cache.stats().misses;
  // Same start, then different audio: the shared start hits, the rest is encoded (and decodes).
  std::vector<std::string> packets = SendLine(*b, Line({311.7, 647.3}, 10));
  EXPECT_EQ(cache.stats().hits, 10);
  EXPECT_EQ(cache.stats().misses - misses, 10);
  auto receiver = *AudioReceiver::Create(16000);
  uint64_t ts = 0;
  int frames = 0;
  for (std::string& p : packets) {
    parley::v1::Audio audio;
    audio.set_payload(p);
    audio.set_timestamp_samples(ts);
    ts += 320;
    frames += static_cast<int>(receiver->Receive(audio).size());
  }
  EXPECT_EQ(frames, 20);
  EXPECT_EQ(receiver->stats().corrupt, 0);
}

TEST(AudioSenderCacheTest, AFullCacheKeepsNothingMore) {
  audio::OpusPacketCache cache(0);
  auto sender = *AudioSender::Create(16000, audio::kFrameMs, {.cache = &cache});
  SendLine(*sender, Line({311.7}, 5));
  SendLine(*sender, Line({311.7}, 5));
  EXPECT_EQ(cache.stats().entries, 0);
  EXPECT_EQ(cache.stats().hits, 0);
}

// A client that wants `runs` calls, `period` apart, counting them.
class CountingClient final : public FrameScheduler::Client {
 public:
  CountingClient(int runs, Clock::duration period) : runs_(runs), period_(period) {}
  std::optional<Clock::time_point> RunDue(Clock::time_point now) override {
    EXPECT_FALSE(inside_.exchange(true)) << "RunDue on two threads at once";
    const int done = ++count_;
    inside_ = false;
    if (done == runs_) finished_.Notify();
    if (done >= runs_) return std::nullopt;
    return now + period_;
  }
  int count() const { return count_.load(); }
  absl::Notification& finished() { return finished_; }

 private:
  const int runs_;
  const Clock::duration period_;
  std::atomic<int> count_{0};
  std::atomic<bool> inside_{false};
  absl::Notification finished_;
};

TEST(FrameSchedulerTest, RunsEachClientUntilItHasNothingDue) {
  FrameScheduler scheduler(2);
  std::vector<std::unique_ptr<CountingClient>> clients;
  std::vector<FrameScheduler::Slot> slots;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(std::make_unique<CountingClient>(10, milliseconds(1)));
    slots.push_back(scheduler.Add(clients.back().get()));
  }
  // Added but not woken: never run.
  std::this_thread::sleep_for(milliseconds(20));
  for (auto& c : clients) EXPECT_EQ(c->count(), 0);
  for (auto& slot : slots) scheduler.Wake(slot, Clock::now());
  for (auto& c : clients) c->finished().WaitForNotification();
  std::this_thread::sleep_for(milliseconds(20));
  for (auto& c : clients) EXPECT_EQ(c->count(), 10);
  // Woken again after it went idle: runs again.
  scheduler.Wake(slots[0], Clock::now());
  while (clients[0]->count() == 10) std::this_thread::sleep_for(milliseconds(1));
  EXPECT_EQ(clients[0]->count(), 11);
  for (auto& slot : slots) scheduler.Remove(slot);
}

TEST(FrameSchedulerTest, ARemovedClientIsNeverRunAgain) {
  FrameScheduler scheduler(1);
  CountingClient client(1000000, milliseconds(0));
  FrameScheduler::Slot slot = scheduler.Add(&client);
  scheduler.Wake(slot, Clock::now());
  while (client.count() < 100) std::this_thread::sleep_for(milliseconds(1));
  scheduler.Remove(slot);
  const int after = client.count();
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(client.count(), after);
  scheduler.Wake(slot, Clock::now());  // a late Wake for a removed client is ignored
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(client.count(), after);
}

TEST(FrameSchedulerTest, AnEarlierWakeOverridesALaterTime) {
  FrameScheduler scheduler(1, milliseconds(0));
  CountingClient client(2, std::chrono::hours(1));
  FrameScheduler::Slot slot = scheduler.Add(&client);
  scheduler.Wake(slot, Clock::now());
  while (client.count() < 1) std::this_thread::sleep_for(milliseconds(1));
  // It asked for an hour from now; a Wake for now runs it at once.
  scheduler.Wake(slot, Clock::now());
  client.finished().WaitForNotification();
  EXPECT_EQ(client.count(), 2);
  scheduler.Remove(slot);
}

}  // namespace
}  // namespace parley::media
