#include "common/speech/endpointer.h"

#include <gtest/gtest.h>

#include "common/speech/clock.h"

namespace parley::speech {
namespace {

constexpr absl::Duration kMin = absl::Milliseconds(500);
constexpr absl::Duration kMax = absl::Milliseconds(1500);

class EndpointerTest : public ::testing::Test {
 protected:
  // Advances the fake clock in 20 ms frames until Poll() says the turn ended; returns how long
  // that took, or InfiniteDuration after 10 s.
  absl::Duration TimeToEndOfTurn(Endpointer& e) {
    const absl::Time start = clock_.Now();
    while (clock_.Now() - start < absl::Seconds(10)) {
      if (e.Poll()) return clock_.Now() - start;
      clock_.Advance(absl::Milliseconds(20));
    }
    return absl::InfiniteDuration();
  }

  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
};

TEST(LooksUnfinishedTest, ConjunctionsFillersAndTrailingCommas) {
  EXPECT_TRUE(LooksUnfinished("I want to book and", false));
  EXPECT_TRUE(LooksUnfinished("yes but", false));
  EXPECT_TRUE(LooksUnfinished("so um", false));
  EXPECT_TRUE(LooksUnfinished("I was going to say UH ", false));
  EXPECT_TRUE(LooksUnfinished("Well, because", false));
  EXPECT_TRUE(LooksUnfinished("I need the", false));
  EXPECT_TRUE(LooksUnfinished("Yes,", false));
  EXPECT_TRUE(LooksUnfinished("I think...", false));
  EXPECT_FALSE(LooksUnfinished("yes that is me", false));
  EXPECT_FALSE(LooksUnfinished("no thanks", false));
  EXPECT_FALSE(LooksUnfinished("brand", false));  // "and" only as a whole word
  EXPECT_FALSE(LooksUnfinished("", false));
  EXPECT_FALSE(LooksUnfinished("   ", true));
}

TEST(LooksUnfinishedTest, PunctuatingSttNeedsAFinalMark) {
  EXPECT_TRUE(LooksUnfinished("Yes that is me", true));
  EXPECT_FALSE(LooksUnfinished("Yes, that is me.", true));
  EXPECT_FALSE(LooksUnfinished("Who is this?", true));
  EXPECT_TRUE(LooksUnfinished("I'd like to, um.", true));
  EXPECT_FALSE(LooksUnfinished("Yes that is me", false));
}

TEST_F(EndpointerTest, FinishedTranscriptEndsTheTurnAfterMinDelay) {
  Endpointer e({.min_delay = kMin, .max_delay = kMax}, &clock_);
  EXPECT_FALSE(e.Poll());
  EXPECT_EQ(e.deadline(), absl::InfiniteFuture());
  e.OnSpeechStart();
  e.OnTranscript("yes that is me");
  e.OnSpeechEnd();
  EXPECT_TRUE(e.waiting());
  EXPECT_EQ(e.deadline(), clock_.Now() + kMin);
  EXPECT_EQ(TimeToEndOfTurn(e), kMin);
  EXPECT_FALSE(e.Poll());  // once per turn
  EXPECT_FALSE(e.waiting());
}

TEST_F(EndpointerTest, UnfinishedTranscriptWaitsMaxDelay) {
  Endpointer e({.min_delay = kMin, .max_delay = kMax}, &clock_);
  e.OnSpeechStart();
  e.OnTranscript("I would like to book and");
  e.OnSpeechEnd();
  EXPECT_EQ(TimeToEndOfTurn(e), kMax);
}

TEST_F(EndpointerTest, TranscriptFinishingDuringTheWaitEndsTheTurnEarlier) {
  Endpointer e({.min_delay = kMin, .max_delay = kMax}, &clock_);
  e.OnSpeechStart();
  e.OnTranscript("so um");
  e.OnSpeechEnd();
  clock_.Advance(absl::Milliseconds(700));
  EXPECT_FALSE(e.Poll());
  // The STT's final result arrives and reads complete: past min_delay already, so it ends now.
  e.OnTranscript("so um yes");
  EXPECT_TRUE(e.Poll());
}

TEST_F(EndpointerTest, SpeechResumingCancelsTheWait) {
  Endpointer e({.min_delay = kMin, .max_delay = kMax}, &clock_);
  e.OnSpeechStart();
  e.OnTranscript("I was thinking");
  e.OnSpeechEnd();
  clock_.Advance(absl::Milliseconds(400));
  EXPECT_FALSE(e.Poll());
  e.OnSpeechStart();  // not done after all
  clock_.Advance(absl::Seconds(3));
  EXPECT_FALSE(e.Poll());
  EXPECT_EQ(e.deadline(), absl::InfiniteFuture());
  e.OnTranscript("I was thinking about Tuesday");
  e.OnSpeechEnd();
  EXPECT_EQ(TimeToEndOfTurn(e), kMin);
}

TEST_F(EndpointerTest, WaitCountsFromWhenSpeechStopped) {
  Endpointer e({.min_delay = kMin, .max_delay = kMax}, &clock_);
  // The VAD reports the end 300 ms (its min_silence) after the last voiced frame.
  const absl::Time stopped = clock_.Now();
  clock_.Advance(absl::Milliseconds(300));
  e.OnTranscript("no thanks");
  e.OnSpeechEnd(stopped);
  EXPECT_EQ(TimeToEndOfTurn(e), kMin - absl::Milliseconds(300));
}

TEST_F(EndpointerTest, PunctuatingSttWaitsForTheFinalMark) {
  Endpointer e({.min_delay = kMin, .max_delay = kMax, .stt_punctuates = true}, &clock_);
  e.OnTranscript("Yes that is");
  e.OnSpeechEnd();
  EXPECT_EQ(e.deadline(), clock_.Now() + kMax);
  e.OnTranscript("Yes, that is me.");
  EXPECT_EQ(e.deadline(), clock_.Now() + kMin);
}

TEST_F(EndpointerTest, EndOfTurnForgetsTheTranscript) {
  Endpointer e({.min_delay = kMin, .max_delay = kMax}, &clock_);
  e.OnTranscript("and");
  e.OnSpeechEnd();
  EXPECT_EQ(TimeToEndOfTurn(e), kMax);
  e.OnSpeechStart();
  e.OnSpeechEnd();  // next turn, no transcript yet: nothing to wait for
  EXPECT_EQ(TimeToEndOfTurn(e), kMin);
}

TEST_F(EndpointerTest, MaxDelayBelowMinDelayIsRaisedToIt) {
  Endpointer e({.min_delay = kMin, .max_delay = absl::Milliseconds(100)}, &clock_);
  e.OnTranscript("and");
  e.OnSpeechEnd();
  EXPECT_EQ(TimeToEndOfTurn(e), kMin);
}

TEST(ClockTest, FakeClockMovesOnlyWhenTold) {
  FakeClock clock;
  EXPECT_EQ(clock.Now(), absl::UnixEpoch());
  clock.Advance(absl::Seconds(2));
  EXPECT_EQ(clock.Now(), absl::UnixEpoch() + absl::Seconds(2));
  clock.Set(absl::FromUnixSeconds(100));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(100));
}

TEST(ClockTest, SystemClockFollowsTheWallClock) {
  Clock* clock = SystemClock::Get();
  EXPECT_EQ(clock, SystemClock::Get());
  EXPECT_LT(absl::AbsDuration(clock->Now() - absl::Now()), absl::Seconds(1));
}

}  // namespace
}  // namespace parley::speech
